package queue

import "sync"

// waitlist is the blocked Dequeues of one queue value, woken one per
// event (a job arriving wakes one consumer, not all of them), oldest
// first.
type waitlist struct {
	mu   sync.Mutex
	list []chan struct{}
}

// add registers a waiter; its channel receives one wake-up.
func (w *waitlist) add() chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.list = append(w.list, ch)
	w.mu.Unlock()
	return ch
}

// remove takes a waiter that stops waiting off the list. If it was woken
// meanwhile and did not act on it, the wake-up goes to the next waiter,
// so that no job is left waiting for a Dequeue that has gone; orphaned
// reports a wake-up that found no next waiter (Redis hands it to other
// processes).
func (w *waitlist) remove(ch chan struct{}) (orphaned bool) {
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
	case <-ch:
		return !w.wakeOne()
	default:
		return false
	}
}

// wakeOne wakes the longest-waiting Dequeue; false if there is none.
func (w *waitlist) wakeOne() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.list) == 0 {
		return false
	}
	ch := w.list[0]
	w.list[0] = nil
	w.list = w.list[1:]
	ch <- struct{}{}
	return true
}

// wakeAll wakes every waiter (Close).
func (w *waitlist) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.list {
		ch <- struct{}{}
	}
	w.list = nil
}
