package ratelimit

// bucketState is the token and leaky bucket as GCRA: debt is how far the
// bucket is from full, in ticks of 1/Rate µs, as of time last (µs). A
// request of n adds n·periodUS ticks of debt; debt drains at one tick per
// tick; the bucket admits while debt stays within burst·periodUS. For the
// leaky bucket the same debt is the queue: its length says when the newest
// admitted request leaves.
type bucketState struct {
	last, debt int64
}

func (st *bucketState) decide(s *spec, now, n int64) outcome {
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
	capacity := s.burst * s.periodUS
	cost := n * s.periodUS
	st.last, st.debt = now, debt
	if debt > capacity-cost {
		return outcome{remaining: (capacity - debt) / s.periodUS, retry: debt - (capacity - cost), reset: debt}
	}
	st.debt = debt + cost
	o := outcome{allowed: true, remaining: (capacity - st.debt) / s.periodUS, reset: st.debt}
	if s.alg == LeakyBucket {
		o.delay = st.debt - s.periodUS // until the last of the n slots leaves
	}
	return o
}

func (st *bucketState) idle(s *spec, now int64) bool {
	elapsed := now - st.last
	return st.debt == 0 || elapsed >= s.drainUS || elapsed*s.rate >= st.debt
}

// peek is decide for one unit on a copy, so nothing is spent, with
// Remaining and ResetAfter put back to the state before that unit.
func (st *bucketState) peek(s *spec, now int64) outcome {
	c := *st
	o := c.decide(s, now, 1)
	if o.allowed {
		o.remaining++
		o.reset -= s.periodUS
		o.delay = 0
	}
	return o
}
