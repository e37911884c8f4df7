package shortener

import (
	"context"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/cqrs"
)

// Event types of a link's stream ("link-<code>"). The link table is a
// projection of these, so it can be rebuilt from them.
const (
	EventLinkCreated   = "link-created"
	EventLinkDeleted   = "link-deleted"
	EventLinkExpired   = "link-expired"
	EventLinkExhausted = "link-visits-exhausted"
)

// Status is where a link is in its lifecycle.
type Status string

// The statuses a link passes through. Deleted links leave the link table.
const (
	StatusActive    Status = "active"
	StatusExpired   Status = "expired"
	StatusExhausted Status = "visits-exhausted"
	StatusDeleted   Status = "deleted"
)

// Link is a short link as the link table holds it (and as the resolution
// cache does).
type Link struct {
	Code      string     `json:"code"`
	URL       string     `json:"url"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	MaxVisits int64      `json:"max_visits,omitempty"`
	// Dedup: the link is in the deduplication index (no alias, expiry or
	// visit limit was asked for).
	Dedup  bool   `json:"dedup,omitempty"`
	Status Status `json:"status"`
}

// linkState is the link aggregate: the link, or the zero value when its
// stream is empty.
type linkState struct {
	Link
	exists bool
}

// evolveLink applies one event of a link's stream.
func evolveLink(s linkState, e cqrs.Event) (linkState, error) {
	switch e.Type {
	case EventLinkCreated:
		var l Link
		if err := e.Decode(&l); err != nil {
			return s, fmt.Errorf("link event %d: %w", e.Version, err)
		}
		l.Status = StatusActive
		return linkState{Link: l, exists: true}, nil
	case EventLinkDeleted:
		s.Status = StatusDeleted
	case EventLinkExpired:
		if s.Status == StatusActive {
			s.Status = StatusExpired
		}
	case EventLinkExhausted:
		if s.Status == StatusActive {
			s.Status = StatusExhausted
		}
	}
	return s, nil
}

// linkTable is the handler of the link table projection: code → Link,
// deleted links removed. Its Runner filters out the events of other
// streams (clicks, dedup claims); any that reached it would be ignored.
func linkTable(ctx context.Context, tx *cqrs.Tx[Link], e cqrs.Event) error {
	switch e.Type {
	case EventLinkCreated:
		var l Link
		if err := e.Decode(&l); err != nil {
			return fmt.Errorf("link table: event %d: %w", e.Position, err)
		}
		l.Status = StatusActive
		tx.Put(l.Code, l)
	case EventLinkDeleted, EventLinkExpired, EventLinkExhausted:
		var ref struct {
			Code string `json:"code"`
		}
		if err := e.Decode(&ref); err != nil {
			return fmt.Errorf("link table: event %d: %w", e.Position, err)
		}
		if e.Type == EventLinkDeleted {
			tx.Delete(ref.Code)
			return nil
		}
		l, ok, err := tx.Get(ctx, ref.Code)
		if err != nil || !ok || l.Status != StatusActive {
			return err
		}
		l.Status = StatusExpired
		if e.Type == EventLinkExhausted {
			l.Status = StatusExhausted
		}
		tx.Put(ref.Code, l)
	}
	return nil
}

// codeRef is the payload of the events that only name their link.
type codeRef struct {
	Code string `json:"code"`
}
