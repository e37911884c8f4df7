package ratelimittest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/ratelimit"
	"github.com/sysdesign/patterns/ratelimit/ratelimittest"
)

// manualClock is the clock the limiters under test decide by; the suite
// moves it.
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

// memoryBackend is the factory a limiter's author writes: limiters on a
// clock the suite can move. ratelimit's memory limiter stands in for
// yours here.
func memoryBackend(t *testing.T) ratelimittest.Backend {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	return ratelimittest.Backend{
		NewLimiter: func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error) {
			return ratelimit.NewMemory(alg, l, ratelimit.WithClock(clock.Now))
		},
		Now:     clock.Now,
		Advance: clock.Advance,
	}
}

// TestMemoryConforms is the whole of what a limiter's author adds to the
// limiter's tests.
func TestMemoryConforms(t *testing.T) {
	ratelimittest.TestLimiter(t, ratelimittest.Features{}, memoryBackend)
}

// The test that proves a limiter conforms is one call (TestMemoryConforms
// above); a limiter of fewer algorithms lists them in Features, and each
// case is a subtest, so `go test -run 'TestMemoryConforms/RetryAfter'`
// runs one. A caller can also pick cases from Cases and run them itself.
func Example() {
	_ = func(t *testing.T) {
		f := ratelimittest.Features{Algorithms: []ratelimit.Algorithm{ratelimit.TokenBucket}}
		ratelimittest.TestLimiter(t, f, memoryBackend)
	}

	for _, c := range ratelimittest.Cases[5:8] {
		fmt.Println(c.Name)
	}
	// Output:
	// RetryAfter is exact
	// concurrent calls admit exactly the limit
	// keys are independent
}
