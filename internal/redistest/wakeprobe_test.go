package redistest

import (
	"testing"
	"time"
)

// A sleep overdue when the probe stops counts, in the worst and in the
// total; one not yet due counts for nothing.
func TestWakeProbeCountsTheSleepUnderWay(t *testing.T) {
	p := startWakeProbe(time.Hour)
	p.asleep.Store(time.Now().Add(-time.Hour - 100*time.Millisecond).UnixNano())
	worst, total := p.Stop()
	if worst < 100*time.Millisecond || total < 100*time.Millisecond {
		t.Errorf("a sleep overdue by 100ms: worst %v, total %v", worst, total)
	}
	if worst, total := startWakeProbe(time.Hour).Stop(); worst >= time.Millisecond || total >= time.Millisecond {
		t.Errorf("a sleep not yet due: worst %v, total %v", worst, total)
	}
}

// Ended sleeps add up in the total; the worst is the largest of them.
func TestWakeProbeSumsEndedSleeps(t *testing.T) {
	p := startWakeProbe(time.Hour)
	now := time.Now()
	p.asleep.Store(now.Add(-time.Hour - 30*time.Millisecond).UnixNano())
	p.total.Add(int64(p.note(now)))
	p.asleep.Store(now.Add(-time.Hour - 20*time.Millisecond).UnixNano())
	p.total.Add(int64(p.note(now)))
	p.asleep.Store(time.Now().UnixNano())
	worst, total := p.Stop()
	if worst < 30*time.Millisecond || worst > 35*time.Millisecond {
		t.Errorf("worst %v, want the 30ms sleep", worst)
	}
	if total < 50*time.Millisecond || total > 55*time.Millisecond {
		t.Errorf("total %v, want 30ms + 20ms", total)
	}
}
