package ratelimit

import (
	"context"
	"time"
)

// Decision is the answer to one request.
type Decision struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Limit is the limit that decided, with Burst filled in.
	Limit Limit
	// Remaining is what is left right after this decision: how many more
	// requests of 1 would be allowed at this instant.
	Remaining int
	// RetryAfter, when denied, is the least wait after which the same request
	// is allowed if nothing else arrives meanwhile; 0 when allowed.
	RetryAfter time.Duration
	// ResetAfter is the time until the key is back to its full, idle state.
	ResetAfter time.Duration
	// Delay (LeakyBucket only) is how long to wait before proceeding, so
	// that admitted requests leave evenly spaced. 0 for the other algorithms.
	Delay time.Duration
}

// Limiter decides whether requests under a key may proceed.
//
// Keys are independent. AllowN takes n units at once (n requests, or n
// bytes); denied requests consume nothing. An n < 1 is an error wrapping
// ErrInvalidRequest, an n above what the limit can ever admit is an error
// wrapping ErrExceedsLimit.
type Limiter interface {
	Allow(ctx context.Context, key string) (Decision, error)
	AllowN(ctx context.Context, key string, n int) (Decision, error)
}

// outcome is an algorithm's answer in its own integer units (see
// spec.ticksPerUS), before conversion to a Decision. Both backends produce
// it, so they share the conversion and cannot drift apart.
type outcome struct {
	allowed   bool
	remaining int64
	retry     int64
	reset     int64
	delay     int64
}

func (s *spec) decision(o outcome) Decision {
	d := Decision{
		Allowed:    o.allowed,
		Limit:      s.limit,
		Remaining:  int(max(o.remaining, 0)),
		ResetAfter: s.duration(o.reset),
	}
	if o.allowed {
		d.Delay = s.duration(o.delay)
	} else {
		d.RetryAfter = s.duration(o.retry)
	}
	return d
}
