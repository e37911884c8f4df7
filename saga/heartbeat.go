package saga

import (
	"sync"
	"time"
)

// heartbeat calls renew every interval until stop or until renew returns
// false. It holds no goroutine between beats (a timer runs each beat), and
// stop waits for a beat in progress, so nothing outlives its run.
type heartbeat struct {
	mu      sync.Mutex
	t       *time.Timer
	every   time.Duration
	renew   func() bool
	stopped bool
	busy    sync.WaitGroup
}

// start begins the beats; a zero heartbeat is ready to start, once.
func (h *heartbeat) start(every time.Duration, renew func() bool) {
	h.mu.Lock()
	h.every, h.renew = every, renew
	h.t = time.AfterFunc(every, h.beat)
	h.mu.Unlock()
}

func (h *heartbeat) beat() {
	h.mu.Lock()
	if h.stopped {
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
	if !h.stopped {
		h.t.Reset(h.every)
	}
	h.mu.Unlock()
}

// stop ends the beats and waits for one in progress; it may be called on
// a heartbeat that never started.
func (h *heartbeat) stop() {
	h.mu.Lock()
	h.stopped = true
	if h.t != nil {
		h.t.Stop()
	}
	h.mu.Unlock()
	h.busy.Wait()
}
