package notify

import (
	"fmt"
	"time"

	"github.com/sysdesign/patterns/cqrs"
)

// The history of a notification is one cqrs stream: an accepted event,
// then one status event per change of each channel's delivery. GET reads
// a projection of it (View), folded from the stream when asked for, so
// the write path never updates a read model.
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

// projector folds a notification's history into its View: the evolve
// function of a cqrs.Repository, so GET replays the stream of the
// notification it asks for. A materialised read model would be updated
// for every status change of every delivery, while a View is read
// rarely; replaying a stream of a few events costs one store read, and
// GET sees every change recorded before it. The View keeps HistoryLimit
// entries per channel, but the stream keeps every change: a delivery
// deferred a thousand times makes a GET read and fold a thousand events
// (in one store read).
type projector struct{ historyLimit int }

// evolve applies one history event to v. Each Load folds from the zero
// View, so v is changed in place.
func (p projector) evolve(v View, e cqrs.Event) (View, error) {
	switch e.Type {
	case eventAccepted:
		a, err := decodeAccepted(e.Data)
		if err != nil {
			return v, fmt.Errorf("notify: %s %d: %w", e.StreamID, e.Version, err)
		}
		v = View{ID: a.ID, UserID: a.UserID, Priority: a.Priority, Subject: a.Subject, CreatedAt: a.At,
			SendAt: a.SendAt, Channels: make(map[string]*ChannelView, len(a.Channels))}
		for _, ch := range a.Channels {
			cv := &ChannelView{History: []StatusEntry{}}
			if a.First != "" {
				cv.Status, cv.NextAttemptAt = a.First, a.SendAt
				cv.History = append(cv.History, StatusEntry{Status: a.First, At: a.At, NextAt: a.SendAt})
			}
			v.Channels[ch] = cv
		}
	case eventStatus:
		s, err := decodeStatus(e.Data)
		if err != nil {
			return v, fmt.Errorf("notify: %s %d: %w", e.StreamID, e.Version, err)
		}
		if v.Channels == nil {
			return v, nil // a status without its acceptance cannot happen; nothing to show
		}
		cv := v.Channels[s.Channel]
		if cv == nil {
			cv = &ChannelView{History: []StatusEntry{}}
			v.Channels[s.Channel] = cv
		}
		cv.Status, cv.Reason, cv.NextAttemptAt = s.Status, s.Reason, s.NextAt
		cv.Attempts = max(cv.Attempts, s.Attempt)
		cv.History = p.appendEntry(cv.History, StatusEntry{Status: s.Status, At: s.At, Attempt: s.Attempt, NextAt: s.NextAt, Reason: s.Reason})
	}
	return v, nil
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
