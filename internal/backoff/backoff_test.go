package backoff

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestCapped(t *testing.T) {
	for _, c := range []struct {
		min, max time.Duration
		attempt  int
		want     time.Duration
	}{
		{10, 100, 1, 10}, {10, 100, 2, 20}, {10, 100, 4, 80}, {10, 100, 5, 100}, {10, 100, 500, 100},
		{10, 100, 0, 10}, {0, 100, 3, 0}, {10, 0, 3, 0},
		{time.Duration(math.MaxInt64 / 3), time.Duration(math.MaxInt64), 10, time.Duration(math.MaxInt64)},
	} {
		if got := Capped(c.min, c.max, c.attempt); got != c.want {
			t.Errorf("Capped(%v, %v, %d) = %v, want %v", c.min, c.max, c.attempt, got, c.want)
		}
	}
}

func TestJitterStaysInItsRange(t *testing.T) {
	p := Policy{Min: 100 * time.Millisecond, Max: time.Second}
	for attempt := 1; attempt <= 6; attempt++ {
		w := Capped(p.Min, p.Max, attempt)
		for i := 0; i < 200; i++ {
			if got := (Policy{p.Min, p.Max, None}).Wait(attempt); got != w {
				t.Fatalf("None: %v, want %v", got, w)
			}
			if got := (Policy{p.Min, p.Max, Equal}).Wait(attempt); got < w/2 || got > w {
				t.Fatalf("Equal: %v outside [%v, %v]", got, w/2, w)
			}
			if got := (Policy{p.Min, p.Max, Full}).Wait(attempt); got < 0 || got > w {
				t.Fatalf("Full: %v outside [0, %v]", got, w)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatal("a cancelled sleep did not return at once")
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("zero sleep on a done ctx: %v", err)
	}
}
