package ratelimit

// windowState is FixedWindow: count admitted in the window with index
// window (windows are [window·P, (window+1)·P) in µs since the Unix epoch).
type windowState struct {
	window, count int64
}

func (st *windowState) decide(s *spec, now, n int64) outcome {
	w := floorDiv(now, s.periodUS)
	if w < st.window { // the clock stepped back: stay in the newest window seen
		w, now = st.window, st.window*s.periodUS
	}
	if w > st.window {
		st.window, st.count = w, 0
	}
	left := (w+1)*s.periodUS - now // until this window ends
	if st.count+n > s.rate {
		return outcome{remaining: s.rate - st.count, retry: left, reset: left}
	}
	st.count += n
	return outcome{allowed: true, remaining: s.rate - st.count, reset: left}
}

func (st *windowState) idle(s *spec, now int64) bool {
	return st.count == 0 || floorDiv(now, s.periodUS) > st.window
}

// counterState is SlidingWindowCounter: the counts of the current window
// and of the one before it, windows aligned as for FixedWindow.
type counterState struct {
	window, prev, cur int64
}

func (st *counterState) decide(s *spec, now, n int64) outcome {
	p := s.periodUS
	w := floorDiv(now, p)
	if w < st.window {
		w, now = st.window, st.window*p
	}
	switch {
	case w == st.window+1:
		st.prev, st.cur = st.cur, 0
	case w > st.window+1:
		st.prev, st.cur = 0, 0
	}
	st.window = w
	elapsed := now - w*p
	// The estimate prev·(p-elapsed)/p + cur + n ≤ rate, multiplied out by p
	// so it is exact in integers.
	weighted := st.prev * (p - elapsed)
	fits := st.cur+n <= s.rate && weighted <= (s.rate-st.cur-n)*p
	if fits {
		st.cur += n
	}
	o := outcome{allowed: fits, remaining: s.rate - st.cur - ceilDiv(weighted, p)}
	switch {
	case st.cur > 0:
		o.reset = 2*p - elapsed
	case st.prev > 0:
		o.reset = p - elapsed
	}
	if fits {
		return o
	}
	if st.cur+n <= s.rate {
		// Still this window, once the previous window's weight has shrunk
		// to prev·(p-e') ≤ (rate-cur-n)·p.
		o.retry = p - elapsed - (s.rate-st.cur-n)*p/st.prev
	} else {
		// Next window, where this one's count becomes the weighted part.
		o.retry = p - elapsed + max(0, p-(s.rate-n)*p/st.cur)
	}
	return o
}

func (st *counterState) idle(s *spec, now int64) bool {
	w := floorDiv(now, s.periodUS)
	return w > st.window+1 || (w == st.window+1 && st.cur == 0) || (st.cur == 0 && st.prev == 0)
}

// peek is decide for one unit on a copy, so nothing is spent, with
// Remaining and ResetAfter put back to the state before that unit.
func (st *windowState) peek(s *spec, now int64) outcome {
	c := *st
	o := c.decide(s, now, 1)
	if o.allowed {
		o.remaining++
		if c.count == 1 { // the window was empty: the key is idle
			o.reset = 0
		}
	}
	return o
}

// peek: see windowState.peek. After one unit the reset is 2P-elapsed;
// before it, with nothing in the current window, P-elapsed if the previous
// window still weighs, else 0.
func (st *counterState) peek(s *spec, now int64) outcome {
	c := *st
	o := c.decide(s, now, 1)
	if o.allowed {
		o.remaining++
		if c.cur == 1 {
			if c.prev > 0 {
				o.reset -= s.periodUS
			} else {
				o.reset = 0
			}
		}
	}
	return o
}
