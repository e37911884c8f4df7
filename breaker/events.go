package breaker

import (
	"context"
	"log/slog"
	"strconv"
)

// EventKind is what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// EventStateChange: the circuit went From → To (also a change adopted
	// from the fleet). OnStateChange sees the same changes.
	EventStateChange EventKind = iota + 1
	// EventRejected: a call was refused without running fn; Err is the
	// refusal (an *OpenError or ErrTooManyCalls).
	EventRejected
	// EventDetached: the shared store did not answer (Err says why), so the
	// breaker carries on alone on its local state. Reported once per outage.
	EventDetached
	// EventRejoined: the store answers again; the breaker follows the
	// fleet's state again.
	EventRejoined
)

// String returns the kind in lower-kebab case: "state-change",
// "rejected", "detached", "rejoined".
func (k EventKind) String() string {
	switch k {
	case EventStateChange:
		return "state-change"
	case EventRejected:
		return "rejected"
	case EventDetached:
		return "detached"
	case EventRejoined:
		return "rejoined"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is what Config.Observer is told.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Name is the breaker's Config.Name.
	Name string
	// From and To are the states of an EventStateChange (zero otherwise).
	From, To State
	// Err is the refusal of EventRejected and the store's error of
	// EventDetached; nil otherwise.
	Err error
}

// notifier hands events to Config.Observer and Config.Logger. Its zero
// value reports nothing, and callers check on() first so that a breaker
// without either pays one branch.
type notifier struct {
	observer func(Event)
	logger   *slog.Logger
}

func (n *notifier) on() bool { return n.observer != nil || n.logger != nil }

func (n *notifier) emit(e Event) {
	if n.observer != nil {
		n.observer(e)
	}
}

// stateChanged reports a change; opening is a Warn (the dependency is
// failing), recovering an Info.
func (n *notifier) stateChanged(name string, from, to State) {
	n.emit(Event{Kind: EventStateChange, Name: name, From: from, To: to})
	if n.logger != nil {
		level, msg := slog.LevelInfo, "breaker: circuit "+to.String()
		if to == Open {
			level = slog.LevelWarn
		}
		n.logger.LogAttrs(context.Background(), level, msg,
			slog.String("breaker", name), slog.String("from", from.String()), slog.String("to", to.String()))
	}
}

// rejected reports a refusal; it is logged at Debug only, since an open
// circuit refuses every call and its opening was already a Warn.
func (n *notifier) rejected(ctx context.Context, name string, err error) {
	n.emit(Event{Kind: EventRejected, Name: name, Err: err})
	if n.logger != nil && n.logger.Enabled(ctx, slog.LevelDebug) {
		n.logger.LogAttrs(ctx, slog.LevelDebug, "breaker: call refused",
			slog.String("breaker", name), slog.Any("err", err))
	}
}

// detached reports that the shared store stopped answering (a Warn: the
// fleet no longer acts as one).
func (n *notifier) detached(ctx context.Context, name string, err error) {
	n.emit(Event{Kind: EventDetached, Name: name, Err: err})
	if n.logger != nil {
		n.logger.LogAttrs(ctx, slog.LevelWarn, "breaker: shared store unreachable, deciding alone",
			slog.String("breaker", name), slog.Any("err", err))
	}
}

// rejoined reports that the shared store answers again.
func (n *notifier) rejoined(ctx context.Context, name string) {
	n.emit(Event{Kind: EventRejoined, Name: name})
	if n.logger != nil {
		n.logger.LogAttrs(ctx, slog.LevelInfo, "breaker: shared store answers again",
			slog.String("breaker", name))
	}
}
