package redistest

import (
	"sync"
	"testing"
	"time"
)

// Slack is what a timing check adds to a bound: a call bounded by d must
// return within d + Slack.
const Slack = 50 * time.Millisecond

// On a machine starved of CPU (the race detector, packages tested in
// parallel, two cores) the whole test process can stand still for tens of
// milliseconds, and no call can keep a bound meanwhile. A StallWatch
// measures those stalls, so that a timing check fails a call that was late
// while the process ran, and excuses only the lateness the process's own
// stall explains.
type StallWatch struct {
	mu     sync.Mutex
	stalls []stall // in time order
	quit   chan struct{}
	done   chan struct{}
}

type stall struct {
	end time.Time     // when the late tick came
	d   time.Duration // how late it came
}

// stallTick is how often the watch asks to be woken.
const stallTick = 2 * time.Millisecond

// WatchStalls starts a watch that lasts until t ends.
func WatchStalls(t testing.TB) *StallWatch {
	w := &StallWatch{quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.stop)
	return w
}

func (w *StallWatch) run() {
	defer close(w.done)
	tk := time.NewTicker(stallTick)
	defer tk.Stop()
	last := time.Now()
	for {
		select {
		case <-w.quit:
			return
		case now := <-tk.C:
			if late := now.Sub(last) - stallTick; late > time.Millisecond {
				w.mu.Lock()
				w.stalls = append(w.stalls, stall{end: now, d: late})
				w.mu.Unlock()
			}
			last = now
		}
	}
}

func (w *StallWatch) stop() { close(w.quit); <-w.done }

// Stalled returns how long the process stood still between from and to
// (counting a stall that overlaps either end in full). A stall still going
// on at to is seen once the watch's next tick comes, so call it after the
// timed call returned.
func (w *StallWatch) Stalled(from, to time.Time) time.Duration {
	time.Sleep(stallTick) // let a stall in progress at `to` be recorded
	w.mu.Lock()
	defer w.mu.Unlock()
	var sum time.Duration
	for _, s := range w.stalls {
		if s.end.After(from) && s.end.Add(-s.d).Before(to) {
			sum += s.d
		}
	}
	return sum
}

// Late reports whether a call that started at start and just returned kept
// bound + Slack, excusing the time the process itself stood still
// meanwhile; elapsed is the call's duration.
func (w *StallWatch) Late(start time.Time, bound time.Duration) (elapsed time.Duration, late bool) {
	end := time.Now()
	elapsed = end.Sub(start)
	if elapsed <= bound+Slack {
		return elapsed, false
	}
	return elapsed, elapsed > bound+Slack+w.Stalled(start, end)
}

// A timing check that can be repeated is tried again, TimingAttempts times
// in all, when it failed while the process stood still for StallExcuse or
// more.
const (
	TimingAttempts = 3
	StallExcuse    = 25 * time.Millisecond
)

// OnTime runs call until it returns within limit; a late run is tried
// again (TimingAttempts in all) only when the process itself stood still
// for 25ms or more meanwhile. It returns the last run's duration and
// whether it was in time. Use it where a call can be repeated; Late where
// it cannot.
func OnTime(limit time.Duration, call func()) (time.Duration, bool) {
	for attempt := 1; ; attempt++ {
		w := &StallWatch{quit: make(chan struct{}), done: make(chan struct{})}
		go w.run()
		start := time.Now()
		call()
		end := time.Now()
		elapsed := end.Sub(start)
		stalled := w.Stalled(start, end)
		w.stop()
		if elapsed <= limit {
			return elapsed, true
		}
		if stalled < StallExcuse || attempt == TimingAttempts {
			return elapsed, false
		}
	}
}

// process watches the whole test binary from its start, so that Late can
// be called anywhere without setting a watch up (and a goroutine counted by
// a leak test is there before any test counts).
var process = func() *StallWatch {
	w := &StallWatch{quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}()

// Stalled is StallWatch.Stalled on a watch of the whole test process.
func Stalled(from, to time.Time) time.Duration { return process.Stalled(from, to) }

// Late is StallWatch.Late on a watch of the whole test process.
func Late(start time.Time, bound time.Duration) (elapsed time.Duration, late bool) {
	return process.Late(start, bound)
}
