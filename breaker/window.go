package breaker

import "sync"

// window is the sliding window of call outcomes the rate thresholds are
// judged over: count-based (a ring of the last size outcomes) or time-based
// (timeBuckets buckets of width/timeBuckets each). Only calls of the closed
// state go in; it is emptied when the circuit closes.
type window struct {
	mu sync.Mutex

	// count-based
	ring []uint8 // outcome bits per slot: 1 = recorded, 2 = failed, 4 = slow
	next int

	// time-based
	width   int64 // bucket width in ns; 0 for a count-based window
	buckets [timeBuckets]bucket

	calls, failures, slow int // count-based totals

	gen uint32 // the closed period whose calls it holds
}

type bucket struct {
	idx                   int64 // which width-long interval it holds
	calls, failures, slow int
}

const (
	slotUsed   = 1
	slotFailed = 2
	slotSlow   = 4
)

func newWindow(s *settings) *window {
	if s.WindowDuration > 0 {
		w := &window{width: int64(s.WindowDuration) / timeBuckets}
		w.reset(0)
		return w
	}
	return &window{ring: make([]uint8, s.WindowSize)}
}

// add records one outcome at now (ns) of a call admitted in closed period
// gen and returns the window's totals; ok is false, and nothing recorded,
// when gen is not the window's period.
func (w *window) add(gen uint32, now int64, failed, slow bool) (calls, failures, slowCalls int, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if gen != w.gen {
		return 0, 0, 0, false
	}
	if w.width == 0 {
		old := w.ring[w.next]
		w.calls -= int(old & slotUsed)
		w.failures -= int(old & slotFailed >> 1)
		w.slow -= int(old & slotSlow >> 2)
		v := uint8(slotUsed)
		if failed {
			v |= slotFailed
		}
		if slow {
			v |= slotSlow
		}
		w.ring[w.next] = v
		w.next = (w.next + 1) % len(w.ring)
		w.calls++
		w.failures += int(v & slotFailed >> 1)
		w.slow += int(v & slotSlow >> 2)
		return w.calls, w.failures, w.slow, true
	}
	idx := floorDiv(now, w.width)
	b := &w.buckets[mod(idx, timeBuckets)]
	if b.idx != idx {
		*b = bucket{idx: idx}
	}
	b.calls++
	if failed {
		b.failures++
	}
	if slow {
		b.slow++
	}
	calls, failures, slowCalls = w.sumLocked(idx)
	return calls, failures, slowCalls, true
}

// totals returns the window's totals at now (ns).
func (w *window) totals(now int64) (calls, failures, slowCalls int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.width == 0 {
		return w.calls, w.failures, w.slow
	}
	return w.sumLocked(floorDiv(now, w.width))
}

// sumLocked adds up the buckets of the intervals cur-timeBuckets+1 … cur.
func (w *window) sumLocked(cur int64) (calls, failures, slowCalls int) {
	for i := range w.buckets {
		b := &w.buckets[i]
		if b.idx > cur-timeBuckets && b.idx <= cur {
			calls += b.calls
			failures += b.failures
			slowCalls += b.slow
		}
	}
	return calls, failures, slowCalls
}

// reset empties the window for closed period gen.
func (w *window) reset(gen uint32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen = gen
	clear(w.ring)
	w.next, w.calls, w.failures, w.slow = 0, 0, 0, 0
	for i := range w.buckets {
		w.buckets[i] = bucket{idx: -1 << 62} // never current
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
