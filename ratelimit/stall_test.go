package ratelimit

import (
	"sync/atomic"
	"time"
)

// Timing tests assert that calls return within their bound plus 50ms. On
// a machine starved of CPU (the race detector, packages tested in
// parallel, two cores) the whole test process can stand still for tens of
// milliseconds, and no call can keep a bound meanwhile; so a timing check
// that failed while the process itself stood still for stallExcuse or more
// is tried again, up to timingAttempts times in all. A call that is late
// while the process was running fails at once.
const (
	timingAttempts = 3
	stallExcuse    = 25 * time.Millisecond
)

// onTime runs call until it returns within limit, trying again only as
// said above; it returns the last run's duration and whether it was in
// time.
func onTime(limit time.Duration, call func()) (time.Duration, bool) {
	for attempt := 1; ; attempt++ {
		w := watchStalls()
		start := time.Now()
		call()
		elapsed := time.Since(start)
		stall := w.stop()
		if elapsed <= limit {
			return elapsed, true
		}
		if stall < stallExcuse || attempt == timingAttempts {
			return elapsed, false
		}
	}
}

// stallWatch measures how late the runtime wakes a goroutine that asks to
// be woken every 2ms: how long the process stood still.
type stallWatch struct {
	worst   atomic.Int64 // ns
	quit    chan struct{}
	stopped chan struct{}
}

func watchStalls() *stallWatch {
	w := &stallWatch{quit: make(chan struct{}), stopped: make(chan struct{})}
	const tick = 2 * time.Millisecond
	go func() {
		defer close(w.stopped)
		t := time.NewTicker(tick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-w.quit:
				// A stall since the last tick counts too.
				if late := time.Since(last) - tick; int64(late) > w.worst.Load() {
					w.worst.Store(int64(late))
				}
				return
			case now := <-t.C:
				if late := now.Sub(last) - tick; int64(late) > w.worst.Load() {
					w.worst.Store(int64(late))
				}
				last = now
			}
		}
	}()
	return w
}

// stop ends the watch and returns the longest stall it saw.
func (w *stallWatch) stop() time.Duration {
	close(w.quit)
	<-w.stopped
	return time.Duration(w.worst.Load())
}
