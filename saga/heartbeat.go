package saga

import (
	"sync"
	"time"
)

// heartbeat calls renew every interval until stop or until renew returns
// false. It holds no goroutine between beats, and stop waits for a beat in
// progress, so nothing outlives its run. Its beats come from a timer of
// its own or, on a MemoryLog, from the Saga's shared beats. Once stopped
// it may be started again (a pooled run's next execution): a beat of an
// earlier start that fires late sees the generation changed and does
// nothing.
type heartbeat struct {
	mu      sync.Mutex
	t       *time.Timer
	every   time.Duration
	renew   func() bool
	stopped bool
	gen     uint64 // of the current start; stop moves it on
	busy    sync.WaitGroup

	shared     *beats     // non-nil: beaten by shared, listed there
	prev, next *heartbeat // in shared's list, under shared.mu
	listed     bool
}

// start begins the beats, on a zero heartbeat or a stopped one.
func (h *heartbeat) start(every time.Duration, renew func() bool) {
	h.mu.Lock()
	h.every, h.renew, h.stopped = every, renew, false
	gen := h.gen
	h.t = time.AfterFunc(every, func() { h.beat(gen) })
	h.mu.Unlock()
}

func (h *heartbeat) beat(gen uint64) {
	h.mu.Lock()
	if h.stopped || h.gen != gen {
		h.mu.Unlock()
		return
	}
	h.busy.Add(1)
	h.mu.Unlock()
	defer h.busy.Done()
	if !h.renew() {
		return
	}
	h.mu.Lock()
	if !h.stopped && h.gen == gen {
		h.t.Reset(h.every)
	}
	h.mu.Unlock()
}

// stop ends the beats and waits for one in progress; it may be called on
// a heartbeat that never started.
func (h *heartbeat) stop() {
	if b := h.shared; b != nil {
		b.remove(h)
		h.busy.Wait()
		return
	}
	h.mu.Lock()
	h.stopped = true
	h.gen++
	if h.t != nil {
		h.t.Stop()
	}
	h.mu.Unlock()
	h.busy.Wait()
}

// beats is one timer renewing all the running sagas of a Saga whose log
// is a MemoryLog, every interval: a timer per saga cost a third of a short
// saga's time in memory, where a renewal takes a lock and no I/O (so one
// renewal cannot hold the others up, as one to Redis could). A saga joins
// at start and is renewed within an interval, then every interval: its
// lease (three intervals) never runs out while it runs. The timer stops
// when no saga runs.
type beats struct {
	mu    sync.Mutex
	every time.Duration
	t     *time.Timer
	armed bool
	head  *heartbeat
}

// start lists h, to be renewed by renew from the next beat on.
func (b *beats) start(h *heartbeat, renew func() bool) {
	h.shared, h.renew = b, renew
	b.mu.Lock()
	defer b.mu.Unlock()
	h.next, h.listed = b.head, true
	if b.head != nil {
		b.head.prev = h
	}
	b.head = h
	switch {
	case b.armed:
	case b.t == nil:
		b.t, b.armed = time.AfterFunc(b.every, b.beat), true
	default:
		b.t.Reset(b.every)
		b.armed = true
	}
}

// remove unlists h; once it returns no beat starts renewing h (one under
// way holds h.busy).
func (b *beats) remove(h *heartbeat) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !h.listed {
		return
	}
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		b.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	}
	h.prev, h.next, h.listed = nil, nil, false
}

func (b *beats) beat() {
	b.mu.Lock()
	var due []*heartbeat
	for h := b.head; h != nil; h = h.next {
		h.busy.Add(1)
		due = append(due, h)
	}
	if b.armed = b.head != nil; b.armed {
		b.t.Reset(b.every)
	}
	b.mu.Unlock()
	for _, h := range due {
		if !h.renew() {
			b.remove(h) // taken over or finished: nothing more to renew
		}
		h.busy.Done()
	}
}
