package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Memory is an in-process Limiter: exact, lock-sharded, zero allocations per
// decision on a key it already tracks. Its limits hold within one process
// only; a fleet behind a load balancer needs Redis (or Fallback to Memory
// while Redis is down).
//
// Memory is bounded: a key whose state is back to that of a fresh key is
// dropped by a periodic sweep of its shard, run inline by callers (no
// goroutine), and WithMaxKeys sets a hard cap. Time comes from WithClock
// (default time.Now) and is read through the monotonic clock, so a wall
// clock step does not refill or drain buckets; a clock that runs backwards
// holds time still rather than granting anything.
type Memory struct {
	spec      spec
	now       func() time.Time
	base      time.Time // origin of the monotonic reading
	baseUS    int64     // base as µs since the Unix epoch, for window alignment
	decideKey func(key string, now, n int64) (outcome, error)
	count     func() int
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-memory limiter for alg and l. Options: WithClock,
// WithMaxKeys. Errors wrap ErrInvalidConfig.
func NewMemory(alg Algorithm, l Limit, opts ...Option) (*Memory, error) {
	s, err := newSpec(alg, l)
	if err != nil {
		return nil, err
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	if o.setPrefix || o.setTimeout {
		return nil, fmt.Errorf("%w: WithPrefix and WithTimeout apply to the Redis limiter only", ErrInvalidConfig)
	}
	m := &Memory{spec: s, now: o.now}
	m.base = m.now()
	m.baseUS = m.base.UnixMicro()
	switch alg {
	case TokenBucket, LeakyBucket:
		m.bind(newTable[bucketState](&m.spec, o.maxKeys))
	case FixedWindow:
		m.bind(newTable[windowState](&m.spec, o.maxKeys))
	case SlidingWindowCounter:
		m.bind(newTable[counterState](&m.spec, o.maxKeys))
	case SlidingWindowLog:
		m.bind(newTable[logState](&m.spec, o.maxKeys))
	}
	return m, nil
}

func (m *Memory) bind(t interface {
	decide(key string, now, n int64) (outcome, error)
	len() int
}) {
	m.decideKey, m.count = t.decide, t.len
}

// Allow is AllowN(ctx, key, 1).
func (m *Memory) Allow(ctx context.Context, key string) (Decision, error) {
	return m.AllowN(ctx, key, 1)
}

// AllowN decides on n units under key. It never blocks and does not look
// at ctx: there is no I/O to cancel.
func (m *Memory) AllowN(_ context.Context, key string, n int) (Decision, error) {
	if err := m.spec.checkN(n); err != nil {
		return Decision{Limit: m.spec.limit}, err
	}
	o, err := m.decideKey(key, m.nowUS(), int64(n))
	if err != nil {
		return Decision{Limit: m.spec.limit}, err
	}
	return m.spec.decision(o), nil
}

// Keys reports how many keys the limiter tracks right now.
func (m *Memory) Keys() int { return m.count() }

// Limit returns the limiter's limit, with Burst filled in.
func (m *Memory) Limit() Limit { return m.spec.limit }

func (m *Memory) nowUS() int64 {
	return m.baseUS + m.now().Sub(m.base).Microseconds()
}
