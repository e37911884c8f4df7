package groupcommit

import (
	"sync"
	"sync/atomic"
	"time"
)

// A queued call's state: its caller and the batcher race to settle it
// once; the loser of the race is the waiter's last user and pools it.
const (
	waiting   uint32 = iota
	answered         // res and err are set; done has (or will have) a value
	abandoned        // the caller gave up and left
)

// waiter is one queued call. Waiters are pooled, each with its channel
// and timer, so that a queued call allocates nothing of its own: the
// caller pools its waiter once answered (even as it gave up: it then
// takes the answer), the batcher one that was abandoned (see settle and
// leave).
type waiter[I, R any] struct {
	item     I
	deadline time.Time
	state    atomic.Uint32
	done     chan struct{} // one value once answered
	timer    *time.Timer   // the caller's bound, stopped when pooled
	res      R
	err      error
}

type waiterPool[I, R any] struct{ p sync.Pool }

func (p *waiterPool[I, R]) get(item I, deadline time.Time) *waiter[I, R] {
	w, _ := p.p.Get().(*waiter[I, R])
	if w == nil {
		t := time.NewTimer(time.Hour)
		t.Stop()
		w = &waiter[I, R]{done: make(chan struct{}, 1), timer: t}
	}
	w.item, w.deadline = item, deadline
	w.state.Store(waiting)
	return w
}

// put pools w once nobody else holds it (its channel empty, its timer
// stopped).
func (p *waiterPool[I, R]) put(w *waiter[I, R]) {
	var zeroI I
	var zeroR R
	w.item, w.res, w.err = zeroI, zeroR, nil
	p.p.Put(w)
}

// settle answers w (the batcher's side): res and err go to its caller,
// or, when the caller has left, w goes back to the pool.
func (p *waiterPool[I, R]) settle(w *waiter[I, R], res R, err error) {
	w.res, w.err = res, err
	if w.state.CompareAndSwap(waiting, answered) {
		w.done <- struct{}{} // the caller's from now on
		return
	}
	p.put(w)
}

// leave is the caller's side of giving up: true if it left first (the
// batcher pools w); false if w was answered meanwhile.
func (w *waiter[I, R]) leave() bool {
	return w.state.CompareAndSwap(waiting, abandoned)
}
