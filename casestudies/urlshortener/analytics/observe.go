package analytics

import (
	"context"
	"log/slog"
	"time"
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
	// Code is the clicks' code ("" for MalformedClick).
	Code string
	// Clicks is how many clicks the event concerns: clicks travel and are
	// stored in batches, so one ClickLost or StoreFailed may stand for
	// many (0 for MalformedClick).
	Clicks int64
	// Err is the error behind the event.
	Err error
}

// overloadLogEvery spaces the log lines of Overloaded: under overload
// every redirect drops its click, and a log line per redirect would add
// to the overload.
const overloadLogEvery = time.Second

// report calls the observer and logs the event (Warn; never the referrer
// or user agent; Overloaded at most once per overloadLogEvery, with the
// count so far).
func (a *Analytics) report(e Event) {
	if a.observe != nil {
		a.observe(e)
	}
	if !a.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	if e.Kind == Overloaded {
		now, last := time.Now().UnixNano(), a.overloadLogged.Load()
		if now-last < int64(overloadLogEvery) || !a.overloadLogged.CompareAndSwap(last, now) {
			return
		}
		a.log.Warn("analytics: "+e.Kind.String(), "kind", e.Kind.String(), "code", e.Code,
			"dropped", a.counters.overloaded.Load(), "err", e.Err)
		return
	}
	a.log.Warn("analytics: "+e.Kind.String(), "kind", e.Kind.String(), "code", e.Code, "clicks", e.Clicks, "err", e.Err)
}
