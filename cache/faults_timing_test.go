package cache

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// On a loaded machine (CI tests packages in parallel on two cores, under
// -race) the runtime wakes every goroutine late, the ones that end a
// bounded call included: the bound's timer fires late, then the caller
// waiting for it is woken late. The fault suite measures that delay while
// each timed call runs and allows for it, so that its bounds stay tight
// on a quiet machine and hold on a busy one, while a call that ignores
// its bound (it waits for the 1s client timeouts or for the fault to end)
// still fails.

// wakeTick is how long the probe sleeps between checks: short enough to
// see a delay whenever it happens, long enough to cost next to no CPU.
const wakeTick = 5 * time.Millisecond

// wakeHops is how many wake-ups a bounded call's return may wait for in a
// row beyond the stalls already counted: the bound's timer, then the
// goroutine waiting for the call.
const wakeHops = 2

// wakeProbe measures the worst delay with which the runtime wakes a
// goroutine sleeping on a timer, from its start to its stop.
type wakeProbe struct {
	asleep atomic.Int64 // when the sleep under way began (unix ns)
	worst  atomic.Int64 // ns
	quit   chan struct{}
	done   chan struct{}
}

func startWakeProbe() *wakeProbe {
	p := &wakeProbe{quit: make(chan struct{}), done: make(chan struct{})}
	p.asleep.Store(time.Now().UnixNano())
	go func() {
		defer close(p.done)
		tm := time.NewTimer(wakeTick)
		defer tm.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-tm.C:
			}
			now := time.Now()
			p.record(now)
			p.asleep.Store(now.UnixNano())
			tm.Reset(wakeTick)
		}
	}()
	return p
}

// record notes how late, at now, the sleep under way is.
func (p *wakeProbe) record(now time.Time) {
	late := int64(now.Sub(time.Unix(0, p.asleep.Load())) - wakeTick)
	for {
		w := p.worst.Load()
		if late <= w || p.worst.CompareAndSwap(w, late) {
			return
		}
	}
}

// stop ends the probe and returns the worst delay it saw, counting the
// sleep under way as late as it is by now (a delay that held up the
// timed call may still be going on when the call returns).
func (p *wakeProbe) stop() time.Duration {
	p.record(time.Now())
	close(p.quit)
	<-p.done
	return max(time.Duration(p.worst.Load()), 0)
}

// loadAllowance is what a timed call that ran from start to end may take
// beyond its bound and redistest.Slack on this machine at this moment:
// the time the process stood still meanwhile, plus wakeHops times the
// worst wake-up delay the probe saw (a starved process is not only
// stopped now and then: while it runs, each hand-off of the call's
// return waits its turn too). Both are about 0 on a quiet machine.
func loadAllowance(p *wakeProbe, start, end time.Time) (allowance, stalled, wake time.Duration) {
	wake = p.stop()
	stalled = redistest.Stalled(start, end)
	return stalled + wakeHops*wake, stalled, wake
}

// within runs call and asserts that it returned within bound plus
// redistest.Slack plus the machine's measured lateness (loadAllowance).
func within(t *testing.T, bound time.Duration, call func()) {
	t.Helper()
	p := startWakeProbe()
	start := time.Now()
	call()
	end := time.Now()
	allowance, stalled, wake := loadAllowance(p, start, end)
	elapsed := end.Sub(start)
	require.LessOrEqual(t, elapsed, bound+redistest.Slack+allowance,
		"took %v, bound %v + %v + lateness %v (stalled %v + worst wake-up delay %v × %d)",
		elapsed, bound, redistest.Slack, allowance, stalled, wake, wakeHops)
}
