package notify

import (
	"fmt"
	"time"
)

// Status is where one channel's delivery of a notification stands.
type Status string

// The statuses of a channel delivery, in the order they usually come.
const (
	Queued    Status = "queued"    // due now, waiting for a worker
	Scheduled Status = "scheduled" // send_at is in the future
	Deferred  Status = "deferred"  // held back without using an attempt: quiet hours, rate limit, provider circuit open
	Sending   Status = "sending"   // a worker is handing it to the provider
	Sent      Status = "sent"      // the provider accepted it (final)
	Retrying  Status = "retrying"  // a transient failure; NextAttemptAt says when it is tried again
	Failed    Status = "failed"    // permanent failure, or attempts exhausted; Reason says why (final)
	Skipped   Status = "skipped"   // the user opted out of the channel (final)
	Cancelled Status = "cancelled" // cancelled before it started (final)
)

// Final reports whether nothing more happens to a delivery in status s.
func (s Status) Final() bool {
	return s == Sent || s == Failed || s == Skipped || s == Cancelled
}

// cancellable reports whether a delivery in status s may still be in the
// queue (rather than being sent or done).
func (s Status) cancellable() bool {
	return s == Queued || s == Scheduled || s == Deferred || s == Retrying
}

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event: a channel delivery's status changes, a notification's
// acceptance and a provider circuit's state changes.
const (
	EventAccepted EventKind = iota + 1
	EventStatus
	EventCircuit
)

// String returns the kind in lower-kebab case.
func (k EventKind) String() string {
	switch k {
	case EventAccepted:
		return "accepted"
	case EventStatus:
		return "status"
	case EventCircuit:
		return "circuit"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is what Config.Observer is told.
type Event struct {
	Kind EventKind
	// At is when it happened, on the service's clock.
	At time.Time
	// NotificationID, UserID, Channel and Priority identify the delivery
	// (Channel alone for EventCircuit; no Channel for EventAccepted).
	NotificationID, UserID, Channel, Priority string
	// Status is the delivery's new status (EventStatus), or the circuit's
	// new state as a string (EventCircuit).
	Status Status
	// Attempt is the delivery's attempt number, from 1 (0 before the first).
	Attempt int
	// NextAt is when a retrying, deferred or scheduled delivery is due.
	NextAt time.Time
	// Reason says why a delivery failed, was deferred or skipped.
	Reason string
	// Err is the error behind a failure or retry, if any.
	Err error
}
