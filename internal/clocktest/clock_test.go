package clocktest

import (
	"sync"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	c := New()
	if !c.Now().Equal(Start) {
		t.Fatalf("starts at %v, want %v", c.Now(), Start)
	}
	c.Advance(1500 * time.Millisecond)
	c.Advance(-500 * time.Millisecond)
	if got := c.Now().Sub(Start); got != time.Second {
		t.Fatalf("moved %v, want 1s", got)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Fatalf("Set: %v", c.Now())
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); c.Advance(time.Millisecond); _ = c.Now() }()
	}
	wg.Wait()
	if got := c.Now().Sub(at); got != 8*time.Millisecond {
		t.Fatalf("concurrent advances: %v", got)
	}
}
