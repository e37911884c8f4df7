package redistest

import (
	"testing"
	"time"
)

func TestLateFailsACallThatOverranWhileTheProcessRan(t *testing.T) {
	w := WatchStalls(t)
	start := time.Now()
	time.Sleep(100 * time.Millisecond) // the process runs; only the call is slow
	if elapsed, late := w.Late(start, 10*time.Millisecond); !late {
		t.Fatalf("a %v call with a 10ms bound was not late", elapsed)
	}
	start = time.Now()
	if elapsed, late := w.Late(start, 10*time.Millisecond); late {
		t.Fatalf("an instant call was late (%v)", elapsed)
	}
}

func TestOnTime(t *testing.T) {
	if _, ok := OnTime(20*time.Millisecond, func() {}); !ok {
		t.Fatal("an instant call was not on time")
	}
	calls := 0
	began := time.Now()
	if _, ok := OnTime(20*time.Millisecond, func() { calls++; time.Sleep(60 * time.Millisecond) }); ok {
		t.Fatal("a 60ms call kept a 20ms limit")
	}
	// A retry is right only after the process itself stood still (a
	// loaded machine), which the whole process's watch sees too.
	if calls != 1 && Stalled(began, time.Now()) < StallExcuse {
		t.Fatalf("a late call without a stall was tried %d times, want 1", calls)
	}
}
