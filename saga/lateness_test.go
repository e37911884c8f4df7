package saga

import (
	"sync/atomic"
	"testing"
	"time"
)

// wakeProbe measures how late, in all, the runtime runs a goroutine whose
// timer fired, summed over its sleeps while it watches: the delay that a
// loaded machine (other processes, -race, CPU-starved run queues) adds to
// a timer, the one that ends a bounded call too, and to every wait of the
// call after it. It reads the clock after it wakes, so run-queue waits
// count, not only late timers.
type wakeProbe struct {
	tick   time.Duration
	asleep atomic.Int64 // when the sleep under way began (unix ns)
	total  atomic.Int64 // ns, of the sleeps that ended
	quit   chan struct{}
	done   chan struct{}
}

// wakeProbeTick is short, so that any stall is seen, and long enough to
// cost next to no CPU.
const wakeProbeTick = 5 * time.Millisecond

func startWakeProbe(tick time.Duration) *wakeProbe {
	p := &wakeProbe{tick: tick, quit: make(chan struct{}), done: make(chan struct{})}
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
			p.total.Add(int64(max(p.lateAt(time.Now()), 0)))
			p.asleep.Store(time.Now().UnixNano())
			t.Reset(tick)
		}
	}()
	return p
}

// lateAt is how late, at now, the sleep under way is.
func (p *wakeProbe) lateAt(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, p.asleep.Load())) - p.tick
}

// stop ends the probe and returns the delays seen, counting the sleep
// under way as late as it is by now (a stall that delayed the measured
// call may outlast it).
func (p *wakeProbe) stop() time.Duration {
	close(p.quit)
	<-p.done
	return time.Duration(p.total.Load()) + max(p.lateAt(time.Now()), 0)
}

func TestWakeProbeCountsTheSleepUnderWay(t *testing.T) {
	p := startWakeProbe(time.Hour)
	p.asleep.Store(time.Now().Add(-time.Hour - 100*time.Millisecond).UnixNano())
	if d := p.stop(); d < 100*time.Millisecond {
		t.Errorf("a sleep overdue by 100ms: probe says %v", d)
	}
	if d := startWakeProbe(time.Hour).stop(); d >= time.Millisecond {
		t.Errorf("a sleep not yet due: probe says %v late", d)
	}
}
