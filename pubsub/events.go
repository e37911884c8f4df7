package pubsub

import (
	"context"
	"fmt"
	"log/slog"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventRetried: a handler failed and its message will be delivered
	// again (Attempt is the delivery that failed; Err its error).
	EventRetried EventKind = iota + 1
	// EventDeadLettered: a message was sent to the dead-letter topic after
	// its last attempt (Err is the last handler error).
	EventDeadLettered
	// EventDeadDropped: a dead letter whose own handler failed was
	// dropped.
	EventDeadDropped
	// EventPanicked: a handler panicked (Err is a *PanicError); the
	// delivery counts as failed.
	EventPanicked
	// EventDropped: a full memory queue discarded a message
	// (OverflowDropOldest, OverflowDropNewest, a dead letter to a full
	// queue) or refused it (OverflowError). Group names the queue.
	EventDropped
	// EventHandedBack: a stopping subscription released a message it did
	// not finish (its handler returned ErrHandBack, or its drain timed
	// out): on Redis it is claimable by another consumer at once; in
	// memory it went back to its group's queue, or, with no member left,
	// was dropped (Err is then ErrClosed).
	EventHandedBack
	// EventReclaimed: a Redis consumer took over messages of a consumer
	// that stopped heartbeating (MessageID is the first of them).
	EventReclaimed
	// EventRebound: a Redis group that vanished while a member ran (Redis
	// lost its data, or reaped a plain subscription cut off for longer
	// than its lease) was bound again.
	EventRebound
	// EventDetached: the bus's consumers cannot reach Redis (Err says
	// why); they retry by themselves.
	EventDetached
	// EventRejoined: the bus's consumers reach Redis again after
	// EventDetached.
	EventRejoined
	// EventNoBinding: a Publish failed with ErrNoBinding (Topic and Group
	// say which message and group).
	EventNoBinding
	// EventRecovered: a Redis consumer took back entries that a read of
	// its own had taken but whose reply it never saw (MessageID is the
	// first of them; see Stats.Recovered).
	EventRecovered
)

var eventKindNames = [...]string{
	EventRetried:      "retried",
	EventDeadLettered: "dead-lettered",
	EventDeadDropped:  "dead-dropped",
	EventPanicked:     "panicked",
	EventDropped:      "dropped",
	EventHandedBack:   "handed-back",
	EventReclaimed:    "reclaimed",
	EventRebound:      "rebound",
	EventDetached:     "detached",
	EventRejoined:     "rejoined",
	EventNoBinding:    "no-binding",
	EventRecovered:    "recovered",
}

// String returns the kind's identifier in lower-kebab case, as
// "dead-lettered" for EventDeadLettered.
func (k EventKind) String() string {
	if k > 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what a bus reports to WithObserver. It never holds a payload.
type Event struct {
	Kind EventKind
	// Topic is the message's topic; "" for EventDetached, EventRejoined,
	// EventRebound.
	Topic string
	// Group is the group concerned, or a plain subscription's pattern.
	Group string
	// MessageID is the message concerned, "" when none.
	MessageID string
	// Attempt is the delivery concerned (from 1), 0 when none.
	Attempt int
	// Err is what failed, nil when nothing did.
	Err error
}

// hooks is where a bus sends its events: WithObserver's function and
// WithLogger's logger.
type hooks struct {
	observer func(Event)
	logger   *slog.Logger
}

// emit reports e. The caller holds no lock: the observer may be slow or
// call back into the bus.
func (h *hooks) emit(e Event) {
	if h.observer != nil {
		h.observer(e)
	}
	if h.logger != nil {
		h.log(e)
	}
}

// level is the level e is logged at: Error where a person must look (a
// message given up on, a handler that panicked), Warn for what the bus
// worked around, Info for recoveries and routine takeovers.
func (e Event) level() slog.Level {
	switch e.Kind {
	case EventDeadLettered, EventDeadDropped, EventPanicked:
		return slog.LevelError
	case EventRetried, EventDropped, EventDetached, EventRebound, EventNoBinding, EventRecovered:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// log writes e with structured attributes; never the payload.
func (h *hooks) log(e Event) {
	level := e.level()
	ctx := context.Background()
	if !h.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("event", e.Kind.String()))
	if e.Topic != "" {
		attrs = append(attrs, slog.String("topic", e.Topic))
	}
	if e.Group != "" {
		attrs = append(attrs, slog.String("group", e.Group))
	}
	if e.MessageID != "" {
		attrs = append(attrs, slog.String("id", e.MessageID))
	}
	if e.Attempt > 0 {
		attrs = append(attrs, slog.Int("attempt", e.Attempt))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	h.logger.LogAttrs(ctx, level, "pubsub: "+e.Kind.String(), attrs...)
}

// WithObserver sets a function that the bus calls with every Event:
// retries, dead letters, panics, overflow drops, hand-backs, and on Redis
// reclaims, rebinds, detached/rejoined and ErrNoBinding. It is called
// synchronously where the event happens (never under one of the bus's
// locks), from many goroutines at once: it must be safe for concurrent
// use and quick, and must not Close the bus.
func WithObserver(fn func(Event)) BusOption {
	return busOption(func(c *busConfig) error {
		if fn == nil {
			return fmt.Errorf("%w: WithObserver(nil)", ErrInvalidConfig)
		}
		c.observer = fn
		return nil
	})
}

// WithLogger sets a logger for the events WithObserver reports: Error for
// dead letters and panics, Warn for retries, overflow drops, detaching from
// Redis, rebinds and ErrNoBinding, Info for the rest. Records carry the
// topic, group, message ID, attempt and error, never the payload. nil, the
// default, logs nothing.
func WithLogger(l *slog.Logger) BusOption {
	return busOption(func(c *busConfig) error {
		c.logger = l
		return nil
	})
}
