package notify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/queue"
)

// task is a queue job's payload: everything a worker needs to deliver one
// channel of a notification without reading anything else.
// It is encoded by task.encode (task_codec.go); the JSON names are those
// of the payloads of earlier versions.
type task struct {
	NotificationID string `json:"id"`
	UserID         string `json:"user_id"`
	Channel        string `json:"channel"`
	Priority       string `json:"priority"`
	Subject        string `json:"subject,omitempty"`
	Body           string `json:"body"`
}

func (t task) critical() bool { return t.Priority == queue.Critical.String() }

var idPattern = regexp.MustCompile(`^n[0-9a-f]{20}$`)

// newID returns a fresh notification id: "n" and 80 random bits in hex.
func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return "n" + hex.EncodeToString(b[:])
}

// jobID is the queue job of one channel of a notification: derived, so
// cancellation finds it and a retried enqueue is a duplicate.
func jobID(id, channel string) string { return id + "." + channel }

// idemKey scopes an idempotency key to its user and hashes it, so a
// client's string never reaches a Redis key as is.
func idemKey(userID, key string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

// accept writes a notification's history, then enqueues one job per
// channel. The history comes first so that a worker always finds the
// stream it appends to. If an enqueue fails, the jobs already enqueued are
// cancelled and the channels marked cancelled, best effort, and the
// caller answers 503.
func (s *Service) accept(ctx context.Context, id string, a accepted) error {
	now := s.cfg.Clock()
	first := Queued
	var sendAt *time.Time
	if !a.sendAt.IsZero() {
		first, sendAt = Scheduled, &a.sendAt
	}
	data := acceptedData{ID: id, UserID: a.userID, Channels: a.channels, Priority: a.priority.String(),
		Subject: a.subject, SendAt: sendAt, At: now}
	if err := s.appendHistory(ctx, a.priority == queue.Critical, streamID(id), cqrs.NoStream, newAccepted(data, first)); err != nil {
		return fmt.Errorf("%w: history: %w", ErrUnavailable, err)
	}
	for i, ch := range a.channels {
		payload := task{NotificationID: id, UserID: a.userID, Channel: ch,
			Priority: a.priority.String(), Subject: a.subject, Body: a.body}.encode()
		err := s.queue.Enqueue(ctx, queue.Job{ID: jobID(id, ch), Payload: payload, Priority: a.priority, RunAt: a.sendAt})
		if err != nil && !errors.Is(err, queue.ErrDuplicate) {
			s.undoAccept(id, a, i)
			return fmt.Errorf("%w: queue: %w", ErrUnavailable, err)
		}
	}
	s.stats.accepted.Add(1)
	s.observe(Event{Kind: EventAccepted, At: now, NotificationID: id, UserID: a.userID, Priority: a.priority.String(), NextAt: a.sendAt})
	for _, ch := range a.channels {
		s.observe(Event{Kind: EventStatus, At: now, NotificationID: id, UserID: a.userID, Channel: ch,
			Priority: a.priority.String(), Status: first, NextAt: a.sendAt})
	}
	return nil
}

// undoAccept cancels the first n channels' jobs and marks every channel
// cancelled, on a context of its own: the request's may be what failed.
func (s *Service) undoAccept(id string, a accepted, n int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t := task{NotificationID: id, UserID: a.userID, Priority: a.priority.String()}
	for i, ch := range a.channels {
		if i < n {
			_ = s.queue.Cancel(ctx, jobID(id, ch))
		}
		t.Channel = ch
		_ = s.record(ctx, t, change{status: Cancelled, reason: "not accepted: backend unavailable"})
	}
}
