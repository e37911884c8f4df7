package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

// streamID names the stream of a link's clicks on a UTC day (DayLayout).
//
// Why not one stream per link: a popular link's stream (and, on Redis, its
// list of positions and index of event ids) would grow for ever, and every
// stored event id is checked against it. Why not one per day: every click of
// the day would contend on one stream's id index. Per link and day keeps each
// stream small, lets a day of one link be reloaded on its own (Load), and
// costs nothing at Rebuild, which reads the global order whatever the
// streams: its cost is the number of events in the store.
func streamID(code, day string) string {
	return "click-" + code + "-" + day
}

// wireClicks decodes a message on the click topics: a batch (clickBatch,
// Groups set) or a single click (clickRecord, the format before batching,
// which instances of an older release may still publish).
type wireClicks struct {
	ID        string       `json:"id"`
	Code      string       `json:"code"`
	Groups    []clickGroup `json:"clicks"`
	At        time.Time    `json:"at"`
	Host      string       `json:"ref"`
	UserAgent string       `json:"ua"`
}

// event returns the event to store, its stream and how many clicks it
// holds; ok is false for a message that is neither a valid batch nor a
// click.
func (w wireClicks) event() (ev cqrs.Event, stream string, clicks int64, ok bool) {
	if w.ID == "" || validateCode(w.Code) != nil {
		return cqrs.Event{}, "", 0, false
	}
	var err error
	if w.Groups == nil {
		r := clickRecord{ID: w.ID, Code: w.Code, At: w.At, Host: w.Host, UserAgent: w.UserAgent}
		ev, err = cqrs.NewEvent(EventClicked, r)
		return ev.WithID(w.ID), streamID(w.Code, w.At.UTC().Format(DayLayout)), 1, err == nil
	}
	b := clickBatch{ID: w.ID, Code: w.Code, Groups: w.Groups}
	for _, g := range b.Groups {
		if g.N < 1 {
			return cqrs.Event{}, "", 0, false
		}
	}
	if clicks = b.clicks(); clicks == 0 {
		return cqrs.Event{}, "", 0, false
	}
	ev, err = cqrs.NewEvent(EventClicks, b)
	return ev.WithID(w.ID), streamID(w.Code, b.day()), clicks, err == nil
}

// consume is the group's handler: it appends the batch (or single click)
// to the store with its id, so a redelivered message (at-least-once bus) or
// a retried append stores it once. An error has the bus retry with
// backoff; after StoreAttempts deliveries the clicks go to the dead-letter
// topic.
func (a *Analytics) consume(ctx context.Context, m *pubsub.Message) error {
	var w wireClicks
	if err := json.Unmarshal(m.Payload, &w); err != nil {
		w = wireClicks{}
	}
	ev, stream, n, ok := w.event()
	if !ok {
		// Nothing to store, ever: do not retry it. (Not counted as handled:
		// no Record of this process published it.)
		a.report(Event{Kind: MalformedClick, Err: fmt.Errorf("message %s on %s is not a click", m.ID, m.Topic)})
		return nil
	}
	_, err := a.store.Append(ctx, stream, cqrs.AnyVersion, ev)
	switch {
	case err == nil, errors.Is(err, cqrs.ErrDuplicateEventID):
		if !a.seen.add(w.ID) {
			a.counters.duplicates.Add(n) // a redelivery of clicks handled here
			return nil
		}
		a.counters.stored.Add(n)
	default:
		err = fmt.Errorf("analytics: storing clicks %s: %w", w.ID, err)
		a.report(Event{Kind: StoreFailed, Code: w.Code, Clicks: n, Err: err})
		if m.Attempt >= StoreAttempts && a.seen.add(w.ID) {
			a.counters.handled.Add(n) // dead-lettered: Close must not wait for them
			a.counters.unstored.Add(n)
			a.report(Event{Kind: ClickLost, Code: w.Code, Clicks: n, Err: err})
		}
		return err
	}
	a.counters.handled.Add(n)
	return nil
}
