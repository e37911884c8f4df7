// Package clocktest is a clock for tests that moves only when told to, for
// the WithClock options of the packages (and Config.Clock in breaker).
package clocktest

import (
	"sync"
	"time"
)

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Start is where New starts: a fixed instant, whole seconds past the epoch.
var Start = time.Unix(1_700_000_000, 0)

// New returns a clock at Start.
func New() *Clock { return NewAt(Start) }

// NewAt returns a clock at t.
func NewAt(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time; pass c.Now as a clock function.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d; a negative d moves it back, as a wall
// clock stepped by NTP would.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
