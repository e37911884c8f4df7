package ratelimit

import "time"

// bucketMath holds what a bucket decision divides by, as reciprocals: a
// hot-key decision is a few dozen nanoseconds, and the two 64-bit
// divisions that turn its state into a Decision were a fifth of it.
type bucketMath struct {
	invPeriod, invRate float64 // 1/periodUS, 1/rate
	capacity           int64   // burst·periodUS ticks
}

func newBucketMath(s *spec) bucketMath {
	return bucketMath{invPeriod: 1 / float64(s.periodUS), invRate: 1 / float64(s.rate), capacity: s.burst * s.periodUS}
}

// quo returns a/d for 0 ≤ a < 2^53 and d > 0, given inv = 1/d: the
// product estimates it to within one (a and d are exact in a float64),
// and the remainder corrects the estimate.
func quo(a, d int64, inv float64) int64 {
	q := int64(float64(a) * inv)
	r := a - q*d
	for r < 0 {
		q--
		r += d
	}
	for r >= d {
		q++
		r -= d
	}
	return q
}

// remaining is spec.decision's Remaining: whole requests that fit in the
// capacity left, never below 0.
func (bm *bucketMath) remaining(s *spec, debt int64) int {
	if debt >= bm.capacity {
		return 0
	}
	return int(quo(bm.capacity-debt, s.periodUS, bm.invPeriod))
}

// micros is spec.duration for the buckets: v ticks (of 1/rate µs) rounded
// up to whole µs.
func (bm *bucketMath) micros(s *spec, v int64) time.Duration {
	if v <= 0 {
		return 0
	}
	return time.Duration(quo(v+s.rate-1, s.rate, bm.invRate)) * time.Microsecond
}

// decideBucket is bucketState.decide followed by spec.decision, fused for
// the hot path: the same state change and the same Decision, without the
// intermediate outcome or the divisions (see bucketMath).
func (m *Memory) decideBucket(st *bucketState, now, n int64) Decision {
	s, bm := &m.spec, &m.math
	if now < st.last { // the clock stepped back: hold time still, never refill
		now = st.last
	}
	debt := st.debt
	if elapsed := now - st.last; elapsed >= s.drainUS {
		debt = 0 // even a full bucket has drained (and elapsed·rate might overflow)
	} else if drained := elapsed * s.rate; drained >= debt {
		debt = 0
	} else {
		debt -= drained
	}
	cost := n * s.periodUS
	st.last, st.debt = now, debt
	d := Decision{Limit: s.limit}
	if debt > bm.capacity-cost {
		d.Remaining = bm.remaining(s, debt)
		d.RetryAfter = bm.micros(s, debt-(bm.capacity-cost))
		d.ResetAfter = bm.micros(s, debt)
		return d
	}
	debt += cost
	st.debt = debt
	d.Allowed = true
	d.Remaining = bm.remaining(s, debt)
	d.ResetAfter = bm.micros(s, debt)
	if s.alg == LeakyBucket {
		d.Delay = bm.micros(s, debt-s.periodUS) // until the last of the n slots leaves
	}
	return d
}
