package ratelimit

import (
	"context"
	"sync/atomic"
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
	spec   spec
	now    func() time.Time // nil: the real clock
	base   time.Time        // origin of the monotonic reading
	baseUS int64            // base as µs since the Unix epoch, for window alignment

	// exactly one of these is set, by algorithm
	buckets  *table[bucketState, *bucketState]
	math     bucketMath // buckets only
	windows  *table[windowState, *windowState]
	counters *table[counterState, *counterState]
	logs     *table[logState, *logState]

	hooks hooks
	// Stats beyond the shards' tallies: rare answers only.
	errors, refusals atomic.Uint64
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns an in-memory limiter for alg and l. Options: WithClock,
// WithMaxKeys, WithObserver, WithLogger. Errors wrap ErrInvalidConfig.
func NewMemory(alg Algorithm, l Limit, opts ...MemoryOption) (*Memory, error) {
	s, err := newSpec(alg, l)
	if err != nil {
		return nil, err
	}
	o, err := applyMemoryOptions(opts)
	if err != nil {
		return nil, err
	}
	m := &Memory{spec: s, hooks: o.hooks, now: o.now}
	if m.now != nil {
		m.base = m.now()
	} else {
		m.base = time.Now()
	}
	m.baseUS = m.base.UnixMicro()
	switch alg {
	case TokenBucket, LeakyBucket:
		m.buckets = newTable[bucketState](&m.spec, o.maxKeys)
		m.math = newBucketMath(&m.spec)
	case FixedWindow:
		m.windows = newTable[windowState](&m.spec, o.maxKeys)
	case SlidingWindowCounter:
		m.counters = newTable[counterState](&m.spec, o.maxKeys)
	case SlidingWindowLog:
		m.logs = newTable[logState](&m.spec, o.maxKeys)
	}
	return m, nil
}

// Allow is AllowN(ctx, key, 1).
func (m *Memory) Allow(ctx context.Context, key string) (Decision, error) {
	return m.AllowN(ctx, key, 1)
}

// AllowN decides on n units under key. It never blocks and does not look
// at ctx: there is no I/O to cancel. At the WithMaxKeys cap a new key is
// denied with ErrTooManyKeys (see there); tracked keys are decided as
// usual.
func (m *Memory) AllowN(_ context.Context, key string, n int) (Decision, error) {
	if n < 1 || int64(n) > m.spec.size() {
		m.errors.Add(1)
		return Decision{Limit: m.spec.limit}, m.spec.checkN(n)
	}
	now := m.nowUS()
	if m.buckets != nil {
		// The most common algorithms, kept flat: a call level less and
		// fewer struct copies are a fifth of a hot-key decision here.
		sh, st, err := m.buckets.acquire(key, now)
		if err != nil {
			return m.refused(key, err)
		}
		d := m.decideBucket(st, now, int64(n))
		sh.tally(d.Allowed)
		sh.mu.Unlock()
		return d, nil
	}
	o, err := m.decideWindow(key, now, int64(n))
	if err != nil {
		return m.refused(key, err)
	}
	return m.spec.decision(o), nil
}

// refused is the answer to a new key that a full table could not take
// (ErrTooManyKeys): a denial, whose RetryAfter is how long a tracked key
// takes to go idle and be dropped (see sweepInterval), so how long until
// room is made unless the tracked keys stay busy.
func (m *Memory) refused(key string, err error) (Decision, error) {
	m.refusals.Add(1)
	if m.hooks.on() {
		m.hooks.emit(Event{Kind: EventTooManyKeys, Limiter: "memory", Algorithm: m.spec.alg, Limit: m.spec.limit, Key: key, Err: err})
	}
	return Decision{Limit: m.spec.limit, RetryAfter: time.Duration(sweepInterval(&m.spec)) * time.Microsecond}, err
}

// decideWindow runs a window algorithm on key's state under its shard
// lock, calling each algorithm's decide directly so it inlines.
func (m *Memory) decideWindow(key string, now, n int64) (outcome, error) {
	var o outcome
	switch {
	case m.windows != nil:
		sh, st, err := m.windows.acquire(key, now)
		if err != nil {
			return o, err
		}
		o = st.decide(&m.spec, now, n)
		sh.tally(o.allowed)
		sh.mu.Unlock()
	case m.counters != nil:
		sh, st, err := m.counters.acquire(key, now)
		if err != nil {
			return o, err
		}
		o = st.decide(&m.spec, now, n)
		sh.tally(o.allowed)
		sh.mu.Unlock()
	default:
		sh, st, err := m.logs.acquire(key, now)
		if err != nil {
			return o, err
		}
		o = st.decide(&m.spec, now, n)
		sh.tally(o.allowed)
		sh.mu.Unlock()
	}
	return o, nil
}

// Keys reports how many keys the limiter tracks right now.
func (m *Memory) Keys() int {
	switch {
	case m.buckets != nil:
		return m.buckets.len()
	case m.windows != nil:
		return m.windows.len()
	case m.counters != nil:
		return m.counters.len()
	}
	return m.logs.len()
}

// Stats returns the limiter's counts so far and the keys it tracks now.
// Decisions are counted under the shard lock they take anyway, so
// counting adds nothing to them; Stats takes each shard's lock in turn.
func (m *Memory) Stats() Stats {
	var a, d uint64
	var keys int
	switch {
	case m.buckets != nil:
		a, d, keys = m.buckets.counts()
	case m.windows != nil:
		a, d, keys = m.windows.counts()
	case m.counters != nil:
		a, d, keys = m.counters.counts()
	default:
		a, d, keys = m.logs.counts()
	}
	return Stats{Allowed: a, Denied: d + m.refusals.Load(), Errors: m.errors.Load(), Keys: keys}
}

// Limit returns the limiter's limit, with Burst filled in.
func (m *Memory) Limit() Limit { return m.spec.limit }

func (m *Memory) nowUS() int64 {
	if m.now == nil {
		// time.Since reads only the monotonic clock: one clock read, not two.
		return m.baseUS + time.Since(m.base).Microseconds()
	}
	return m.baseUS + m.now().Sub(m.base).Microseconds()
}

// Algorithm returns the limiter's algorithm.
func (m *Memory) Algorithm() Algorithm { return m.spec.alg }
