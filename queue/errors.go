package queue

import "errors"

var (
	// ErrInvalidConfig wraps every error about a constructor's options.
	ErrInvalidConfig = errors.New("queue: invalid configuration")
	// ErrInvalidJob wraps every error about a job or delivery handed to a
	// queue: a bad ID, a payload over MaxPayload, a bad priority, a nil
	// delivery.
	ErrInvalidJob = errors.New("queue: invalid job")
	// ErrInvalidPriority is returned by ParsePriority, and wrapped (with
	// ErrInvalidJob) by Enqueue, for a priority that is not one of Low,
	// Normal, High, Critical.
	ErrInvalidPriority = errors.New("queue: invalid priority")
	// ErrDuplicate: Enqueue was given the ID of a job that is queued or
	// leased. The queue holds the first; nothing changed.
	ErrDuplicate = errors.New("queue: duplicate job ID")
	// ErrNotFound: Cancel was given an ID the queue does not hold.
	ErrNotFound = errors.New("queue: job not found")
	// ErrLeased: Cancel was given the ID of a job a consumer is working on.
	ErrLeased = errors.New("queue: job is leased")
	// ErrLeaseLost: Ack, Retry or Defer of a delivery whose lease this
	// consumer no longer holds (it expired and the job was reclaimed, or
	// the queue was closed). The job belongs to someone else now: do not
	// act on it further.
	ErrLeaseLost = errors.New("queue: lease lost")
	// ErrClosed: the queue was closed.
	ErrClosed = errors.New("queue: closed")
)
