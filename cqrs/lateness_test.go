package cqrs

import (
	"sync"
	"testing"
	"time"
)

// latenessProbe measures how late the runtime wakes a goroutine sleeping
// on a timer, wake by wake, from the goroutine's own clock reading once it
// runs: the scheduling delay that a loaded machine (other processes,
// -race, dozens of runnable goroutines on two cores) adds to every timer,
// a bound's too. redistest.Late excuses only the time a ticker's timer
// itself fired late; a bound's timer that fires on time but whose
// goroutine waits its turn to run is late by this probe's measure.
type latenessProbe struct {
	mu     sync.Mutex
	wakes  []wake // in time order
	asleep time.Time
	quit   chan struct{}
	done   chan struct{}
}

type wake struct {
	at   time.Time
	late time.Duration
}

// probeTick is the probe's sleep: short, so that a delay is seen whenever
// it happens, and long enough to cost next to no CPU.
const probeTick = 5 * time.Millisecond

func watchLateness(t testing.TB) *latenessProbe {
	p := &latenessProbe{asleep: time.Now(), quit: make(chan struct{}), done: make(chan struct{})}
	go p.run()
	t.Cleanup(func() { close(p.quit); <-p.done })
	return p
}

func (p *latenessProbe) run() {
	defer close(p.done)
	tm := time.NewTimer(probeTick)
	defer tm.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-tm.C:
		}
		now := time.Now()
		p.mu.Lock()
		p.wakes = append(p.wakes, wake{at: now, late: now.Sub(p.asleep) - probeTick})
		p.asleep = now
		p.mu.Unlock()
		tm.Reset(probeTick)
	}
}

// worst is the latest wake-up between from and to, counting the sleep
// under way at to as late as it is by then: the delay that held a call
// back may end only after the call returned.
func (p *latenessProbe) worst(from, to time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	worst := to.Sub(p.asleep) - probeTick
	for i := len(p.wakes) - 1; i >= 0 && !p.wakes[i].at.Before(from); i-- {
		worst = max(worst, p.wakes[i].late)
	}
	return max(worst, 0)
}

// TestLatenessProbe: a sleep overdue at the end of a window counts; a
// window of prompt wake-ups shows next to no delay.
func TestLatenessProbe(t *testing.T) {
	p := &latenessProbe{asleep: time.Now().Add(-probeTick - 100*time.Millisecond)}
	if d := p.worst(time.Now().Add(-time.Second), time.Now()); d < 100*time.Millisecond {
		t.Errorf("a sleep overdue by 100ms: worst %v", d)
	}
	now := time.Now()
	p = &latenessProbe{asleep: now, wakes: []wake{{now.Add(-time.Hour), time.Hour}, {now.Add(-time.Millisecond), time.Millisecond}}}
	if d := p.worst(now.Add(-time.Second), now); d != time.Millisecond {
		t.Errorf("worst %v, want the 1ms of the window (not the hour before it)", d)
	}
}
