package ratelimit

import (
	"errors"
	"sync/atomic"
)

// Stats counts a limiter's or wrapper's answers since it was made.
type Stats struct {
	// Allowed and Denied count decisions returned with a nil error (a
	// wrapper's answers in its limiter's place included) plus, in Denied,
	// ErrTooManyKeys refusals.
	Allowed, Denied uint64
	// Errors counts calls that returned an error other than
	// ErrTooManyKeys: caller errors (bad n), Redis failures, a done ctx.
	Errors uint64
	// Fallbacks counts a wrapper's answers in its limiter's place (see
	// EventFallback); always 0 for Memory and Redis.
	Fallbacks uint64
	// Keys is how many keys a Memory limiter tracks now (see Memory.Keys);
	// 0 for Redis, whose keys expire on the server, and for wrappers.
	Keys int
}

// StatsReporter is implemented by Memory, Redis and the Limiters that
// Fallback, FailOpen and FailClosed return:
//
//	if s, ok := lim.(ratelimit.StatsReporter); ok { log(s.Stats()) }
type StatsReporter interface {
	Stats() Stats
}

// counters are lock-free Stats counters for a limiter that is not sharded.
type counters struct {
	allowed, denied, errors, fallbacks atomic.Uint64
}

// count records one answer.
func (c *counters) count(d Decision, err error) {
	switch {
	case err != nil && !errors.Is(err, ErrTooManyKeys):
		c.errors.Add(1)
	case d.Allowed:
		c.allowed.Add(1)
	default:
		c.denied.Add(1)
	}
}

func (c *counters) stats() Stats {
	return Stats{Allowed: c.allowed.Load(), Denied: c.denied.Load(), Errors: c.errors.Load(), Fallbacks: c.fallbacks.Load()}
}
