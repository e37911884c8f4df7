package cache

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventLoadError: a loader call failed (ErrNotFound is not a failure),
	// or panicked (Err is then a *PanicError). Every waiter of the load
	// got the error.
	EventLoadError EventKind = iota + 1
	// EventCacheError: a cache read or write failed and was worked around
	// (the loader served the read; the value was not stored).
	EventCacheError
	// EventLockError: a fleet lock call failed; the load ran without the
	// lock, or the lock was left to expire.
	EventLockError
	// EventFleetWait: a load waited for another process's fleet lock;
	// Duration is how long.
	EventFleetWait
	// EventEarlyRefresh: a hit close to expiry started a background
	// reload (WithEarlyRefresh).
	EventEarlyRefresh
	// EventNegativeHit: a cached ErrNotFound answered a Get
	// (WithNegativeTTL).
	EventNegativeHit
	// EventSubscriptionLost: a Tiered's invalidation subscription dropped;
	// the local tier was flushed (with WithServeStaleWhileDetached: is
	// served for at most its maxAge more) and is not filled until the
	// subscription is back.
	EventSubscriptionLost
	// EventResubscribed: a Tiered's invalidation subscription is back
	// after a loss; the local tier was flushed and fills again.
	EventResubscribed
)

var eventKindNames = [...]string{
	EventLoadError:        "load-error",
	EventCacheError:       "cache-error",
	EventLockError:        "lock-error",
	EventFleetWait:        "fleet-wait",
	EventEarlyRefresh:     "early-refresh",
	EventNegativeHit:      "negative-hit",
	EventSubscriptionLost: "subscription-lost",
	EventResubscribed:     "resubscribed",
}

// String returns the kind's identifier in lower-kebab case, as
// "load-error" for EventLoadError.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what an Aside or a Tiered reports to WithObserver.
type Event struct {
	Kind     EventKind
	Key      string        // the cache key concerned; "" when none (Tiered's subscription)
	Duration time.Duration // EventFleetWait: the wait; EventLoadError: the loader's run
	Err      error         // what failed; nil for EventFleetWait, EventEarlyRefresh, EventNegativeHit, EventResubscribed
}

// hooks is where an Aside or a Tiered sends its events: WithObserver's
// function, WithLogger's logger and (for failures) WithOnError's hook.
type hooks struct {
	observer func(Event)
	logger   *slog.Logger
	onError  func(key string, err error)
}

// emit reports e. The caller holds no lock: the hooks may be slow or call
// back into the cache.
func (h *hooks) emit(e Event) {
	if h.observer != nil {
		h.observer(e)
	}
	if h.onError != nil && e.Err != nil && e.Kind != EventLoadError {
		h.onError(e.Key, e.Err)
	}
	if h.logger != nil {
		h.log(e)
	}
}

// log writes e at the level an operator needs: Error for failures of the
// source of truth (a person must look), Warn for failures worked around,
// Info for recoveries, Debug for routine events. The key is not an
// attribute (keys may identify users), though an error's text may quote it.
func (h *hooks) log(e Event) {
	level := slog.LevelDebug
	switch e.Kind {
	case EventLoadError:
		level = slog.LevelError
	case EventCacheError, EventLockError, EventSubscriptionLost:
		level = slog.LevelWarn
	case EventResubscribed:
		level = slog.LevelInfo
	}
	ctx := context.Background()
	if !h.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("event", e.Kind.String())}
	if e.Duration > 0 {
		attrs = append(attrs, slog.Duration("duration", e.Duration))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	h.logger.LogAttrs(ctx, level, "cache: "+e.Kind.String(), attrs...)
}
