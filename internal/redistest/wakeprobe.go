package redistest

import (
	"sync/atomic"
	"time"
)

// A StallWatch sees the process standing still; on a loaded machine (other
// processes, -race, dozens of runnable goroutines on two cores) a running
// process is late too: a timer that fired waits for its goroutine to get
// a CPU, and so does the return of a bounded call. A WakeProbe measures
// that delay, sleep by sleep, from its own clock reading once it runs, so
// that a timing check can allow a multiple of it while the bound stays
// tight on a quiet machine (both are about 0 there).
type WakeProbe struct {
	tick   time.Duration
	asleep atomic.Int64 // when the sleep under way began (unix ns)
	worst  atomic.Int64 // ns
	total  atomic.Int64 // ns, of the sleeps that ended
	quit   chan struct{}
	done   chan struct{}
}

// WakeTick is a WakeProbe's sleep: short, so that a delay is seen
// whenever it happens, and long enough to cost next to no CPU.
const WakeTick = 5 * time.Millisecond

// StartWakeProbe starts a probe; Stop ends it.
func StartWakeProbe() *WakeProbe { return startWakeProbe(WakeTick) }

func startWakeProbe(tick time.Duration) *WakeProbe {
	p := &WakeProbe{tick: tick, quit: make(chan struct{}), done: make(chan struct{})}
	p.asleep.Store(time.Now().UnixNano())
	go func() {
		defer close(p.done)
		t := time.NewTimer(tick)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
			}
			now := time.Now()
			late := p.note(now)
			p.total.Add(int64(late))
			p.asleep.Store(now.UnixNano())
			t.Reset(tick)
		}
	}()
	return p
}

// note records how late, at now, the sleep under way is, and returns it.
func (p *WakeProbe) note(now time.Time) time.Duration {
	late := max(now.Sub(time.Unix(0, p.asleep.Load()))-p.tick, 0)
	for {
		w := p.worst.Load()
		if int64(late) <= w || p.worst.CompareAndSwap(w, int64(late)) {
			return late
		}
	}
}

// Stop ends the probe and returns the worst wake-up delay it saw and the
// delays summed, counting the sleep under way as late as it is by now: a
// delay that held up the timed call may end only after the call returned.
func (p *WakeProbe) Stop() (worst, total time.Duration) {
	underway := p.note(time.Now())
	close(p.quit)
	<-p.done
	return time.Duration(p.worst.Load()), time.Duration(p.total.Load()) + underway
}
