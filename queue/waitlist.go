package queue

import "sync"

// waitlist is the blocked Dequeues of one queue value, woken one per
// event (a job arriving wakes one consumer, not all of them), oldest
// first.
//
// A wake-up carries whether it must be passed on if its Dequeue does not
// act on it (true): false when other processes were told of the job as
// well (a script pushed to the wake-up list) or no consumer needs telling
// (jobs were ready already), so that a busy process, whose Dequeues are
// mostly in flight rather than blocked, does not send other processes a
// wake-up script per job they already know of.
type waitlist struct {
	mu   sync.Mutex
	list []chan bool
}

// add registers a waiter; its channel receives one wake-up.
func (w *waitlist) add() chan bool {
	ch := make(chan bool, 1)
	w.mu.Lock()
	w.list = append(w.list, ch)
	w.mu.Unlock()
	return ch
}

// remove takes a waiter that stops waiting off the list. If it was woken
// meanwhile and did not act on it, the wake-up goes to the next waiter,
// so that no job is left waiting for a Dequeue that has gone; orphaned
// reports a wake-up to be passed on that found no next waiter (Redis
// hands it to other processes).
func (w *waitlist) remove(ch chan bool) (orphaned bool) {
	w.mu.Lock()
	for i, c := range w.list {
		if c == ch {
			w.list = append(w.list[:i], w.list[i+1:]...)
			w.mu.Unlock()
			return false
		}
	}
	w.mu.Unlock()
	select {
	case pass := <-ch:
		return !w.wakeOne(pass) && pass
	default:
		return false
	}
}

// wakeOne wakes the longest-waiting Dequeue with a wake-up that must be
// passed on (pass) or not; false if there is no one to wake.
func (w *waitlist) wakeOne(pass bool) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.list) == 0 {
		return false
	}
	ch := w.list[0]
	w.list[0] = nil
	w.list = w.list[1:]
	ch <- pass
	return true
}

// wakeAll wakes every waiter (Close).
func (w *waitlist) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.list {
		ch <- false
	}
	w.list = nil
}
