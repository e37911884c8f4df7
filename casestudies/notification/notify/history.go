package notify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sysdesign/patterns/cqrs"
)

// The history of a notification is one cqrs stream: an accepted event,
// then one status event per change of each channel's delivery. GET reads
// a projection of it (View), so the write path never updates a read model.
const (
	eventAccepted = "NotificationAccepted"
	eventStatus   = "DeliveryStatusChanged"
	streamPrefix  = "notification-"
)

func streamID(id string) string { return streamPrefix + id }

// acceptedData is the payload of eventAccepted. First is every channel's
// first status (queued or scheduled), so that accepting a notification is
// one event whatever its channels; an acceptance recorded without it is
// followed by one status event per channel instead.
type acceptedData struct {
	ID       string     `json:"id"`
	UserID   string     `json:"user_id"`
	Channels []string   `json:"channels"`
	Priority string     `json:"priority"`
	Subject  string     `json:"subject,omitempty"`
	SendAt   *time.Time `json:"send_at,omitempty"`
	At       time.Time  `json:"at"`
	First    Status     `json:"first,omitempty"`
}

// statusData is the payload of eventStatus.
type statusData struct {
	Channel string     `json:"channel"`
	Status  Status     `json:"status"`
	Attempt int        `json:"attempt,omitempty"`
	At      time.Time  `json:"at"`
	NextAt  *time.Time `json:"next_at,omitempty"`
	Reason  string     `json:"reason,omitempty"`
}

// View is what GET /api/notifications/{id} returns: the projection of a
// notification's history.
type View struct {
	ID        string                  `json:"id"`
	UserID    string                  `json:"user_id"`
	Priority  string                  `json:"priority"`
	Subject   string                  `json:"subject,omitempty"`
	CreatedAt time.Time               `json:"created_at"`
	SendAt    *time.Time              `json:"send_at,omitempty"`
	Channels  map[string]*ChannelView `json:"channels"`
}

// ChannelView is one channel's delivery within a View.
type ChannelView struct {
	Status        Status        `json:"status"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt *time.Time    `json:"next_attempt_at,omitempty"`
	Reason        string        `json:"reason,omitempty"`
	History       []StatusEntry `json:"history"`
}

// StatusEntry is one status change in a ChannelView's history.
type StatusEntry struct {
	Status  Status     `json:"status"`
	At      time.Time  `json:"at"`
	Attempt int        `json:"attempt,omitempty"`
	NextAt  *time.Time `json:"next_at,omitempty"`
	Reason  string     `json:"reason,omitempty"`
}

// projector builds Views from the history events.
type projector struct{ historyLimit int }

// apply is the read model's handler. Values a read model returns are
// shared, so it changes a copy and puts that.
// viewRead names the view a history event's projection reads: a status
// event updates its notification's view (an acceptance writes a new one),
// so the read model fetches a batch's views in one call.
func viewRead(e cqrs.Event) (string, bool) {
	if e.Type != eventStatus || !strings.HasPrefix(e.StreamID, streamPrefix) {
		return "", false
	}
	return e.StreamID[len(streamPrefix):], true
}

func (p projector) apply(ctx context.Context, tx *cqrs.Tx[View], e cqrs.Event) error {
	switch e.Type {
	case eventAccepted:
		a, err := decodeAccepted(e.Data)
		if err != nil {
			return fmt.Errorf("notify: %s %d: %w", e.StreamID, e.Version, err)
		}
		v := View{ID: a.ID, UserID: a.UserID, Priority: a.Priority, Subject: a.Subject, CreatedAt: a.At,
			SendAt: a.SendAt, Channels: make(map[string]*ChannelView, len(a.Channels))}
		for _, ch := range a.Channels {
			cv := &ChannelView{}
			if a.First != "" {
				cv.Status, cv.NextAttemptAt = a.First, a.SendAt
				cv.History = []StatusEntry{{Status: a.First, At: a.At, NextAt: a.SendAt}}
			} else {
				cv.History = []StatusEntry{}
			}
			v.Channels[ch] = cv
		}
		tx.Put(a.ID, v)
	case eventStatus:
		s, err := decodeStatus(e.Data)
		if err != nil {
			return fmt.Errorf("notify: %s %d: %w", e.StreamID, e.Version, err)
		}
		id := e.StreamID[len(streamPrefix):]
		v, ok, err := tx.Get(ctx, id)
		if err != nil || !ok {
			return err // a status without its acceptance cannot happen; nothing to show
		}
		// Copy on write: a new map, and a new ChannelView for the channel
		// that changed; the others are shared with the stored View, which
		// nothing changes in place.
		v.Channels = maps.Clone(v.Channels)
		var cv ChannelView
		if old := v.Channels[s.Channel]; old != nil {
			cv = *old
		}
		cv.Status, cv.Reason, cv.NextAttemptAt = s.Status, s.Reason, s.NextAt
		cv.Attempts = max(cv.Attempts, s.Attempt)
		cv.History = p.appendEntry(slices.Clip(cv.History), StatusEntry{Status: s.Status, At: s.At, Attempt: s.Attempt, NextAt: s.NextAt, Reason: s.Reason})
		v.Channels[s.Channel] = &cv
		tx.Put(id, v)
	}
	return nil
}

// appendEntry keeps the first entry and the latest ones, at most
// historyLimit in all, so a delivery deferred for days stays bounded.
func (p projector) appendEntry(h []StatusEntry, e StatusEntry) []StatusEntry {
	h = append(h, e)
	if len(h) > p.historyLimit && p.historyLimit > 1 {
		h = append(h[:1], h[len(h)-p.historyLimit+1:]...)
	}
	return h
}

// newAccepted makes the event of an accepted notification, which is
// also each channel's first status.
func newAccepted(a acceptedData, first Status) cqrs.Event {
	a.First = first
	return newAcceptedEvent(a)
}
