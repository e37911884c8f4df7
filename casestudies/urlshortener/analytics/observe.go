package analytics

import (
	"context"
	"log/slog"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	// ClickLost: a click could not be published within
	// DefaultPublishPatience (or by Close's deadline), or was not stored
	// after StoreAttempts deliveries (dead-lettered). Err says why.
	ClickLost EventKind = iota + 1
	// Overloaded: Record refused a click, its buffer full (ErrOverloaded).
	Overloaded
	// StoreFailed: appending a click failed; the bus retries it.
	StoreFailed
	// MalformedClick: a message on the click topics did not decode into a
	// click; it is dropped.
	MalformedClick
)

// String returns the kind in lower-kebab case, e.g. "click-lost".
func (k EventKind) String() string {
	switch k {
	case ClickLost:
		return "click-lost"
	case Overloaded:
		return "overloaded"
	case StoreFailed:
		return "store-failed"
	case MalformedClick:
		return "malformed-click"
	}
	return "unknown"
}

// Event is what an Analytics reports to Config.Observer and logs to
// Config.Logger: what an operator must see.
type Event struct {
	Kind EventKind
	// Code is the click's code ("" for MalformedClick).
	Code string
	// Err is the error behind the event.
	Err error
}

// report calls the observer and logs the event (Warn; never the referrer
// or user agent).
func (a *Analytics) report(e Event) {
	if a.observe != nil {
		a.observe(e)
	}
	if a.log.Enabled(context.Background(), slog.LevelWarn) {
		a.log.Warn("analytics: "+e.Kind.String(), "kind", e.Kind.String(), "code", e.Code, "err", e.Err)
	}
}
