package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
)

// Errors of Submit besides ErrUnavailable.
var (
	// ErrInvalidNotification is wrapped by Submit's error for a
	// notification the API would answer 400; the message names the field.
	ErrInvalidNotification = errors.New("notify: invalid notification")
	// ErrKeyPending is returned when another request holding the same
	// idempotency key was still being accepted at ctx's deadline (the API
	// answers 409 with Retry-After): retry with the same key.
	ErrKeyPending = errors.New("notify: a notification with this idempotency key is still being accepted")
)

// Notification is what Submit accepts: the body of POST
// /api/notifications, for callers in the same process.
type Notification struct {
	UserID   string
	Channels []string
	// Priority is "critical", "high", "normal" (the default, "") or "low".
	Priority      string
	Subject, Body string
	// SendAt, if in the future, delays the delivery until then; zero is now.
	SendAt time.Time
	// IdempotencyKey, if set, makes a repeat within Config.IdempotencyTTL
	// return the first notification's id and send nothing.
	IdempotencyKey string
}

// Receipt is Submit's answer.
type Receipt struct {
	// ID is the notification's id (GET /api/notifications/{id}).
	ID string
	// Duplicate says the idempotency key was seen before: ID is the
	// earlier notification's, and nothing new will be sent.
	Duplicate bool
}

// Submit accepts n as POST /api/notifications does, with the same checks,
// idempotency and durability (on Redis, a nil error means the history and
// every channel's job are in Redis), without the HTTP and JSON costs.
// Errors wrap ErrInvalidNotification (bad input, naming the field),
// ErrUnavailable (a backend did not answer; nothing was accepted, retry
// with the same idempotency key) or are ErrKeyPending.
func (s *Service) Submit(ctx context.Context, n Notification) (Receipt, error) {
	a, fe := n.validate(s.channels, DefaultMaxBody, s.cfg.Clock())
	if fe != nil {
		return Receipt{}, fmt.Errorf("%w: %s: %s", ErrInvalidNotification, fe.Field, fe.Message)
	}
	return s.submit(ctx, a)
}

// submit accepts a validated notification under its idempotency key, if
// it has one.
func (s *Service) submit(ctx context.Context, a accepted) (Receipt, error) {
	id := newID()
	if a.key != "" {
		held, err := s.claimKey(ctx, idemKey(a.userID, a.key), id)
		if err != nil {
			return Receipt{}, err
		}
		if held != id {
			s.stats.duplicates.Add(1)
			return Receipt{ID: held, Duplicate: true}, nil
		}
	}
	if err := s.accept(ctx, id, a); err != nil {
		if a.key != "" {
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.idem.release(rctx, idemKey(a.userID, a.key), id)
			rcancel()
		}
		return Receipt{}, err
	}
	if a.key != "" {
		if err := s.idem.confirm(ctx, idemKey(a.userID, a.key), id, s.cfg.IdempotencyTTL); err != nil {
			// Accepted all the same; the pending claim expires, after
			// which a repeat of the key makes a second notification.
			s.log.Warn("notify: idempotency key not confirmed", "id", id, "err", err)
		}
	}
	return Receipt{ID: id}, nil
}

// claimKey claims an idempotency key for id, or learns which accepted
// notification holds it; while another request's claim is pending it
// waits for it to be confirmed or released, until ctx ends
// (ErrKeyPending).
func (s *Service) claimKey(ctx context.Context, key, id string) (string, error) {
	for i := 1; ; i++ {
		held, done, err := s.idem.claim(ctx, key, id)
		if err != nil {
			return "", err
		}
		if held == id || done {
			return held, nil
		}
		if backoff.Sleep(ctx, backoff.Capped(2*time.Millisecond, 100*time.Millisecond, i)) != nil {
			return "", ErrKeyPending
		}
	}
}
