package queue

import (
	"fmt"
	"strings"
	"time"
)

// Priority orders due jobs: Critical before High before Normal before Low,
// softened by aging (WithAging).
type Priority int8

// The priorities, lowest first. The zero value of Job.Priority means Normal.
const (
	Low Priority = iota + 1
	Normal
	High
	Critical
)

// String returns "low", "normal", "high" or "critical".
func (p Priority) String() string {
	switch p {
	case Low:
		return "low"
	case Normal:
		return "normal"
	case High:
		return "high"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("Priority(%d)", int(p))
}

// ParsePriority reads a priority's String form, case-insensitively; anything
// else is an error wrapping ErrInvalidPriority.
func ParsePriority(s string) (Priority, error) {
	for p := Low; p <= Critical; p++ {
		if strings.EqualFold(s, p.String()) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want low, normal, high or critical)", ErrInvalidPriority, s)
}

// MaxPayload is the largest Job.Payload a queue accepts (1 MiB): a queue
// carries work items, not blobs; put large data elsewhere and enqueue a
// reference.
const MaxPayload = 1 << 20

// MaxIDLen is the longest Job.ID a queue accepts, in bytes.
const MaxIDLen = 128

// Job is a unit of work. Its ID is chosen by the caller and unique among
// the jobs a queue holds (queued or leased); after Ack or Cancel it may be
// used again.
type Job struct {
	// ID: 1–MaxIDLen bytes of [A-Za-z0-9._:-].
	ID string
	// Payload: at most MaxPayload bytes, opaque to the queue.
	Payload []byte
	// Priority: the zero value means Normal.
	Priority Priority
	// RunAt: the job is never delivered before it; zero means now.
	RunAt time.Time
}

// Delivery is a job handed to one consumer by Dequeue. The consumer ends
// it with exactly one of Ack, Retry or Defer; until then the queue holds
// its lease.
type Delivery struct {
	Job
	// Attempt counts the deliveries that counted, from 1: Retry and a
	// reclaim after a lost lease count one more, Defer and Close do not.
	Attempt int
	// EnqueuedAt is when Enqueue accepted the job.
	EnqueuedAt time.Time

	// lease identifies this delivery's lease, so that a delivery whose
	// lease was lost (reclaimed by another consumer) cannot end the new one.
	lease string
}

// validate checks j and returns its priority with the zero value resolved.
func (j *Job) validate() (Priority, error) {
	if err := checkID(j.ID); err != nil {
		return 0, err
	}
	if len(j.Payload) > MaxPayload {
		return 0, fmt.Errorf("%w: job %q: payload of %d bytes exceeds MaxPayload (%d)", ErrInvalidJob, j.ID, len(j.Payload), MaxPayload)
	}
	p := j.Priority
	if p == 0 {
		p = Normal
	}
	if p < Low || p > Critical {
		return 0, fmt.Errorf("%w: job %q: %w: %d", ErrInvalidJob, j.ID, ErrInvalidPriority, int(j.Priority))
	}
	return p, nil
}

// checkID accepts 1–MaxIDLen bytes of [A-Za-z0-9._:-]: no braces, spaces
// or control bytes, so an ID can never pick a Redis hash slot or break a
// log line.
func checkID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty job ID", ErrInvalidJob)
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: job ID of %d bytes exceeds MaxIDLen (%d)", ErrInvalidJob, len(id), MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return fmt.Errorf("%w: job ID %q: byte %q at %d is not one of [A-Za-z0-9._:-]", ErrInvalidJob, id, c, i)
		}
	}
	return nil
}

// checkDelivery rejects a nil delivery or one Dequeue did not hand out.
func checkDelivery(d *Delivery) error {
	if d == nil {
		return fmt.Errorf("%w: nil delivery", ErrInvalidJob)
	}
	if d.lease == "" {
		return fmt.Errorf("%w: delivery of %q was not returned by Dequeue", ErrInvalidJob, d.ID)
	}
	return nil
}
