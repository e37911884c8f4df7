package queue

import (
	"sync"
	"time"
)

// idleHint remembers that this process saw the ready set empty (an Ack
// or a Dequeue found nothing ready), so that the next Dequeue goes
// straight to waiting instead of running a script that would find
// nothing: one script per job fewer for consumers that outpace their
// producers. It is sound because every job that makes the ready set
// non-empty afterwards produces a wake-up: for a Dequeue registered here,
// for the wake-up list (whose listener wakes a Dequeue blocked here), or,
// when a job of this process finds no Dequeue registered here, by
// spoiling the hint. A reply that started before a spoil cannot set it
// again (generations), and only a Dequeue's first look is skipped: after
// a wake-up or a timer it always asks Redis.
type idleHint struct {
	mu    sync.Mutex
	gen   uint64
	idle  bool
	until time.Time // when the next scheduled job is due or the next lease expires; zero: neither
}

// generation is read before a call whose reply may set the hint.
func (h *idleHint) generation() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gen
}

// saw records what a reply to a call started at generation gen showed:
// the ready set empty (idle), with the next job due in wait (negative:
// none scheduled or leased), or not.
func (h *idleHint) saw(gen uint64, idle bool, wait time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !idle {
		h.idle = false
		h.gen++
		return
	}
	if h.gen != gen {
		return
	}
	h.idle = true
	h.until = time.Time{}
	if wait >= 0 {
		h.until = time.Now().Add(wait)
	}
}

// spoil forgets the hint: a job came that no Dequeue here was woken for.
func (h *idleHint) spoil() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.idle = false
	h.gen++
}

// check reports whether a Dequeue may wait without looking, and for how
// long at most (negative: no bound from the hint).
func (h *idleHint) check() (skip bool, wait time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.idle {
		return false, 0
	}
	if h.until.IsZero() {
		return true, -1
	}
	wait = time.Until(h.until)
	if wait <= 0 {
		h.idle = false
		return false, 0
	}
	return true, wait
}
