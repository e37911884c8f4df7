package ratelimit

// logState is SlidingWindowLog: every admitted request, oldest first, with
// its size. A request counts while now < at + P. Memory is bounded by Rate
// entries per key, the price of exactness.
type logState struct {
	entries []logEntry // entries[head:] are live
	head    int
	total   int64 // sum of n over the live entries
}

type logEntry struct{ at, n int64 }

func (st *logState) decide(s *spec, now, n int64) outcome {
	p := s.periodUS
	if len(st.entries) > st.head {
		if newest := st.entries[len(st.entries)-1].at; now < newest {
			now = newest // the clock stepped back: hold time still
		}
	}
	st.expire(now, p)
	if st.total+n <= s.rate {
		st.entries = append(st.entries, logEntry{at: now, n: n})
		st.total += n
		return outcome{allowed: true, remaining: s.rate - st.total, reset: p}
	}
	// Denied: the oldest total+n-rate units must expire first.
	o := outcome{remaining: s.rate - st.total, reset: st.entries[len(st.entries)-1].at + p - now}
	need, acc := st.total+n-s.rate, int64(0)
	for _, e := range st.entries[st.head:] {
		if acc += e.n; acc >= need {
			o.retry = e.at + p - now
			break
		}
	}
	return o
}

// expire drops the entries that no longer count and compacts the queue
// once its dead prefix dominates, so memory follows the live entries.
func (st *logState) expire(now, p int64) {
	for st.head < len(st.entries) && st.entries[st.head].at+p <= now {
		st.total -= st.entries[st.head].n
		st.head++
	}
	switch {
	case st.head == len(st.entries):
		st.entries, st.head = st.entries[:0], 0
		if cap(st.entries) > 64 {
			st.entries = nil
		}
	case st.head >= 16 && 2*st.head >= len(st.entries):
		live := copy(st.entries, st.entries[st.head:])
		st.entries, st.head = st.entries[:live], 0
	}
}

func (st *logState) idle(s *spec, now int64) bool {
	return st.head == len(st.entries) || st.entries[len(st.entries)-1].at+s.periodUS <= now
}

// peek is decide for one unit without recording it: expire runs (the
// entries it drops no longer count either way), and a denial records
// nothing anyway.
func (st *logState) peek(s *spec, now int64) outcome {
	if len(st.entries) > st.head {
		if newest := st.entries[len(st.entries)-1].at; now < newest {
			now = newest
		}
	}
	st.expire(now, s.periodUS)
	if st.total+1 > s.rate {
		return st.decide(s, now, 1)
	}
	o := outcome{allowed: true, remaining: s.rate - st.total}
	if len(st.entries) > st.head {
		o.reset = st.entries[len(st.entries)-1].at + s.periodUS - now
	}
	return o
}
