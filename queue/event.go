package queue

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// EventKind says what happened.
type EventKind int

// The kinds of Event.
const (
	// Reclaimed: a job whose lease expired (its consumer died or was cut
	// off) was taken back and will be delivered again with Attempt+1.
	Reclaimed EventKind = iota + 1
	// LeaseLost: this process held a lease that is gone (it expired before
	// a renewal reached Redis, or the job was reclaimed): the consumer's
	// Ack, Retry or Defer returns ErrLeaseLost, and the job may run twice.
	LeaseLost
	// Released: Close put a job this process held back in the queue.
	Released
	// Detached: a Redis call of the queue's own (lease renewal, the
	// wake-up listener) failed; the queue keeps trying. Err says why.
	Detached
	// Rejoined: such a call succeeded again after Detached.
	Rejoined
)

// String returns the kind in lower-kebab case: "reclaimed", "lease-lost",
// "released", "detached", "rejoined".
func (k EventKind) String() string {
	switch k {
	case Reclaimed:
		return "reclaimed"
	case LeaseLost:
		return "lease-lost"
	case Released:
		return "released"
	case Detached:
		return "detached"
	case Rejoined:
		return "rejoined"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what WithObserver's function receives and WithLogger logs.
type Event struct {
	Kind EventKind
	// Queue is the Redis queue's name (WithName), or "memory".
	Queue string
	// JobID and Attempt identify the job, for the kinds about one job;
	// Attempt is the one its next delivery will carry.
	JobID   string
	Attempt int
	At      time.Time
	// Err is why, for Detached.
	Err error
}

// emitter sends events to the observer and the logger.
type emitter struct {
	observer func(Event)
	logger   *slog.Logger
}

func (e emitter) emit(ev Event) {
	if e.observer != nil {
		e.observer(ev)
	}
	if e.logger == nil {
		return
	}
	attrs := []slog.Attr{slog.String("queue", ev.Queue)}
	if ev.JobID != "" {
		attrs = append(attrs, slog.String("job", ev.JobID), slog.Int("attempt", ev.Attempt))
	}
	level, msg := slog.LevelInfo, "queue: "+ev.Kind.String()
	switch ev.Kind {
	case Reclaimed:
		msg = "queue: reclaimed a job whose lease expired"
		level = slog.LevelWarn
	case LeaseLost:
		msg = "queue: lost a lease; the job may run twice"
		level = slog.LevelWarn
	case Released:
		msg = "queue: released a held job at close"
	case Detached:
		msg = "queue: Redis call failed, retrying"
		level = slog.LevelWarn
		attrs = append(attrs, slog.Any("err", ev.Err))
	case Rejoined:
		msg = "queue: Redis answers again"
	}
	e.logger.LogAttrs(context.Background(), level, msg, attrs...)
}
