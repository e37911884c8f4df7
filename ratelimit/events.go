package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
)

// EventKind says what happened; see each kind for who reports it and at
// which level WithLogger logs it.
type EventKind int

// The events. The zero EventKind is none of them.
const (
	// EventError: a Redis limiter's call failed (an error, a timeout). The
	// caller gets the error too. Logged at Warn.
	EventError EventKind = iota + 1
	// EventTooManyKeys: a memory limiter at its WithMaxKeys cap refused a
	// new key (ErrTooManyKeys). A stream of them means the cap is too low
	// or someone is spraying keys. Logged at Warn.
	EventTooManyKeys
	// EventDegraded: a wrapper's limiter failed while it was healthy; the
	// wrapper answers in its place until it recovers. Once per outage,
	// logged at Warn.
	EventDegraded
	// EventFallback: a wrapper answered one call in its limiter's place
	// (Fallback asked the secondary, FailOpen allowed, FailClosed denied).
	// One per call during an outage, so logged at Debug only: the outage
	// itself is EventDegraded's Warn.
	EventFallback
	// EventRecovered: a wrapper's limiter answered again after failing;
	// decisions come from it again. Logged at Info.
	EventRecovered
)

var eventKindNames = [...]string{
	EventError:       "error",
	EventTooManyKeys: "too-many-keys",
	EventDegraded:    "degraded",
	EventFallback:    "fallback",
	EventRecovered:   "recovered",
}

// String returns the kind's identifier in lower-kebab case, e.g.
// "too-many-keys" for EventTooManyKeys.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

func (k EventKind) level() slog.Level {
	switch k {
	case EventFallback:
		return slog.LevelDebug
	case EventRecovered:
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// Event is what a limiter or wrapper reports to its observer (WithObserver).
type Event struct {
	Kind EventKind
	// Limiter names who reports it: "memory", "redis", "fallback",
	// "fail-open" or "fail-closed".
	Limiter string
	// Algorithm and Limit are the reporting limiter's; for a wrapper, those
	// its limiter answered with last (zero if it never answered).
	Algorithm Algorithm
	Limit     Limit
	// Key is the rate-limit key of the call; loggers never see it, since it
	// may identify a person (an address, a user id).
	Key string
	// Err is the failure: the limiter's error for EventError,
	// EventDegraded and EventFallback, ErrTooManyKeys for EventTooManyKeys;
	// nil for EventRecovered.
	Err error
}

// emit reports e to the observer and the logger, whichever are set. The
// callers hold no lock.
func (h *hooks) emit(e Event) {
	if h.observer != nil {
		h.observer(e)
	}
	if h.logger != nil {
		attrs := []slog.Attr{slog.String("limiter", e.Limiter)}
		if e.Algorithm != 0 {
			attrs = append(attrs, slog.String("algorithm", e.Algorithm.String()))
		}
		if e.Limit.Rate > 0 {
			attrs = append(attrs, slog.String("limit", e.Limit.String()))
		}
		if e.Err != nil {
			attrs = append(attrs, slog.String("error", e.Err.Error()))
		}
		h.logger.LogAttrs(context.Background(), e.Kind.level(), "ratelimit: "+e.Kind.String(), attrs...)
	}
}

// on reports whether anyone listens, so callers build no Event for nobody.
func (h *hooks) on() bool { return h.observer != nil || h.logger != nil }
