package pubsub

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lateness measures how late the runtime wakes a goroutine sleeping on a
// timer, the worst case over a period: the scheduling delay that a loaded
// machine (other processes, -race) adds to every timer, a bound's too.
type lateness struct {
	tick   time.Duration
	asleep atomic.Int64 // when the sleep under way began (unix ns)
	worst  atomic.Int64 // ns
	quit   chan struct{}
	done   chan struct{}
}

// latenessTick is the probe's sleep: short, so that a stall is seen
// whenever it happens, and long enough to cost next to no CPU.
const latenessTick = 5 * time.Millisecond

func watchLateness() *lateness { return watchLatenessEvery(latenessTick) }

func watchLatenessEvery(tick time.Duration) *lateness {
	l := &lateness{tick: tick, quit: make(chan struct{}), done: make(chan struct{})}
	l.asleep.Store(time.Now().UnixNano())
	go func() {
		defer close(l.done)
		t := time.NewTimer(tick)
		defer t.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-t.C:
			}
			l.note(time.Now())
			l.asleep.Store(time.Now().UnixNano())
			t.Reset(tick)
		}
	}()
	return l
}

// note records the lateness at now of the sleep under way.
func (l *lateness) note(now time.Time) {
	late := now.Sub(time.Unix(0, l.asleep.Load())) - l.tick
	for {
		w := l.worst.Load()
		if int64(late) <= w || l.worst.CompareAndSwap(w, int64(late)) {
			return
		}
	}
}

// stop ends the probe and returns the worst wake-up delay it saw,
// counting the sleep under way as late as it is by now: a stall that
// delayed the measured call may end only after the call returned.
func (l *lateness) stop() time.Duration {
	l.note(time.Now())
	close(l.quit)
	<-l.done
	return max(time.Duration(l.worst.Load()), 0)
}

func TestLatenessCountsTheSleepUnderWay(t *testing.T) {
	l := watchLatenessEvery(time.Hour)
	l.asleep.Store(time.Now().Add(-time.Hour - 100*time.Millisecond).UnixNano())
	require.GreaterOrEqual(t, l.stop(), 100*time.Millisecond, "a sleep overdue by 100ms")

	l = watchLatenessEvery(time.Hour)
	require.Less(t, l.stop(), time.Millisecond, "a sleep not yet due is not late")
}
