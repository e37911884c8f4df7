package sagatest_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/saga"
	"github.com/sysdesign/patterns/saga/sagatest"
)

// manualClock is the clock a log under test reads; the suite moves it.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// memoryBackend is the factory a log's author writes: a fresh, empty log
// per case, on a clock the suite can move. saga's memory log stands in for
// yours here.
func memoryBackend(t *testing.T) sagatest.Backend {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	l, err := saga.NewMemoryLog(saga.WithClock(clock.Now), saga.WithRetention(time.Hour))
	require.NoError(t, err)
	return sagatest.Backend{Log: l, Advance: clock.Advance, Retention: time.Hour}
}

// TestMemoryLogConforms is the whole of what a log's author adds to the
// log's tests.
func TestMemoryLogConforms(t *testing.T) {
	sagatest.TestLog(t, sagatest.Features{}, memoryBackend)
}

// The test that proves a log conforms is one call (TestMemoryLogConforms
// above); each case is a subtest, so `go test -run
// 'TestMemoryLogConforms/takeover'` runs one. A caller can also pick cases
// from Cases and run them itself.
func Example() {
	_ = func(t *testing.T) { sagatest.TestLog(t, sagatest.Features{}, memoryBackend) }

	_ = func(t *testing.T) {
		for _, c := range sagatest.Cases {
			if strings.HasPrefix(c.Name, "takeover") {
				c.Test(t, sagatest.Features{}, memoryBackend)
			}
		}
	}
	for _, c := range sagatest.Cases[:3] {
		fmt.Println(c.Name)
	}
	// Output:
	// claim creates a saga
	// entries round trip
	// claim of a running saga is refused
}
