package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

// streamID names the stream of a click: one per link and UTC day.
//
// Why not one stream per link: a popular link's stream (and, on Redis, its
// list of positions and index of event ids) would grow for ever, and every
// stored click id is checked against it. Why not one per day: every click of
// the day would contend on one stream's id index. Per link and day keeps each
// stream small, lets a day of one link be reloaded on its own (Load), and
// costs nothing at Rebuild, which reads the global order whatever the
// streams: its cost is the number of events in the store.
func streamID(r clickRecord) string {
	return "click-" + r.Code + "-" + r.At.UTC().Format(DayLayout)
}

// consume is the group's handler: it appends the click to the store with
// its id, so a redelivered message (at-least-once bus) or a retried append
// stores it once. An error has the bus retry with backoff; after
// StoreAttempts deliveries the click goes to the dead-letter topic.
func (a *Analytics) consume(ctx context.Context, m *pubsub.Message) error {
	var r clickRecord
	if err := json.Unmarshal(m.Payload, &r); err != nil || r.ID == "" || validateCode(r.Code) != nil {
		// Nothing to store, ever: do not retry it. (Not counted as handled:
		// no Record of this process published it.)
		a.report(Event{Kind: MalformedClick, Err: fmt.Errorf("message %s on %s is not a click", m.ID, m.Topic)})
		return nil
	}
	ev, err := cqrs.NewEvent(EventClicked, r)
	if err == nil {
		_, err = a.store.Append(ctx, streamID(r), cqrs.AnyVersion, ev.WithID(r.ID))
	}
	switch {
	case err == nil, errors.Is(err, cqrs.ErrDuplicateEventID):
		if !a.seen.add(r.ID) {
			a.counters.duplicates.Add(1) // a redelivery of a click handled here
			return nil
		}
		a.counters.stored.Add(1)
	default:
		err = fmt.Errorf("analytics: storing click %s: %w", r.ID, err)
		a.report(Event{Kind: StoreFailed, Code: r.Code, Err: err})
		if m.Attempt >= StoreAttempts && a.seen.add(r.ID) {
			a.counters.handled.Add(1) // dead-lettered: Close must not wait for it
			a.counters.unstored.Add(1)
			a.report(Event{Kind: ClickLost, Code: r.Code, Err: err})
		}
		return err
	}
	a.counters.handled.Add(1)
	return nil
}
