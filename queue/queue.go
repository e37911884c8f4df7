package queue

import (
	"context"
	"time"
)

// Queue is a durable priority/scheduled work queue: each job goes to one
// consumer at a time, most urgent first, never before its RunAt. Memory
// and Redis implement it with the same semantics (see the package doc).
type Queue interface {
	// Enqueue accepts j. ErrDuplicate: a job with this ID is queued or
	// leased; ErrInvalidJob: j is malformed.
	Enqueue(ctx context.Context, j Job) error
	// Dequeue blocks until a job is due, then leases it to the caller. It
	// returns ctx's error when ctx is done first, ErrClosed once closed.
	Dequeue(ctx context.Context) (*Delivery, error)
	// Ack ends a delivery that succeeded: the job is removed. ErrLeaseLost
	// if the lease was lost meanwhile.
	Ack(ctx context.Context, d *Delivery) error
	// Next is a worker loop's "done with this one, give me another": it
	// acks done (as Ack) and then dequeues (as Dequeue); on Redis in one
	// round trip, where Ack then Dequeue take two and a Dequeue finding
	// nothing ready takes a third. done may be nil: Next is then Dequeue.
	// The ack is made even when ctx is already done (bounded by the
	// queue's own timeout), so a worker stopping after its job does not
	// leave the job to run again. An error of the ack (ErrLeaseLost, or a
	// Redis error: outcome unknown, as with Ack) comes back before
	// anything is dequeued; after the ack, the errors are Dequeue's. A
	// closed queue returns ErrClosed and acks nothing.
	Next(ctx context.Context, done *Delivery) (*Delivery, error)
	// Retry ends a delivery that failed: the job is queued again, due at
	// at (zero: now), and its next delivery's Attempt is one more.
	Retry(ctx context.Context, d *Delivery, at time.Time) error
	// Defer puts a delivery back unprocessed (breaker open, quiet hours,
	// rate limit): due at at (zero: now), Attempt unchanged.
	Defer(ctx context.Context, d *Delivery, at time.Time) error
	// Cancel removes a queued job, due or scheduled. ErrNotFound: the
	// queue does not hold it; ErrLeased: a consumer is working on it.
	Cancel(ctx context.Context, id string) error
	// Len counts the jobs that are due (ready), not yet due (scheduled)
	// and being worked on (leased).
	Len(ctx context.Context) (ready, scheduled, leased int64, err error)
	// Stats returns this queue value's counters.
	Stats() Stats
	// Close stops the queue: blocked Dequeues return ErrClosed, and the
	// leases this value still holds are released at once, so their jobs
	// are redelivered (Attempt unchanged) rather than waiting out a
	// visibility timeout.
	Close() error
}

// Defaults of the options.
const (
	// DefaultAging is how long a due job waits before its effective
	// priority rises one level (WithAging).
	DefaultAging = 30 * time.Second
	// DefaultPollInterval bounds how long a blocked Dequeue waits before it
	// looks again without being woken (WithPollInterval): a safety net for
	// a lost wake-up and for a wall clock that jumped.
	DefaultPollInterval = time.Second
	// DefaultName is the Redis queue's name (WithName).
	DefaultName = "default"
	// DefaultPrefix is the Redis key prefix (WithPrefix).
	DefaultPrefix = "queue:"
	// DefaultTimeout bounds each Redis call (WithTimeout): a write of
	// record off the request path, like pubsub's and saga's.
	DefaultTimeout = 2 * time.Second
	// DefaultVisibilityTimeout is how long a lease lasts without renewal
	// (WithVisibilityTimeout); the queue renews its leases every third of
	// it, so a job is reclaimed this long after its consumer died.
	DefaultVisibilityTimeout = 30 * time.Second
)

// Limits of the duration options.
const (
	// MaxAging bounds WithAging, so that priority×aging stays far from
	// overflow in any backend's arithmetic.
	MaxAging = 7 * 24 * time.Hour
)

var (
	_ Queue = (*Memory)(nil)
	_ Queue = (*Redis)(nil)
)
