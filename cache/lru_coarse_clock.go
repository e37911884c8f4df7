package cache

import (
	"sync"
	"sync/atomic"
	"time"
)

// coarseTick is how long a coarseClock reading is served before the clock
// is read again.
const coarseTick = time.Millisecond

// coarseClock is a cached reading of the clock (nanoseconds since base),
// refreshed on demand: the first read after the reading went stale reads
// the clock, stores the reading and arms a timer that marks it stale
// coarseTick later. Reads in between cost one atomic load.
//
// So the clock is read at most about once per coarseTick, and only while
// someone reads it: an idle clock has no timer armed and wakes nothing
// (there is no goroutine to keep alive, unlike a ticker), and a busy one
// costs one timer firing per tick. A reading is at most coarseTick old,
// plus however late the timer fires when the process is starved of CPU.
type coarseClock struct {
	now  atomic.Int64 // the reading; -1: stale, read the clock
	base time.Time

	mu     sync.Mutex
	timer  *time.Timer // nil until first armed
	closed bool
	armed  sync.WaitGroup // one per armed timer, done when it has fired
}

func newCoarseClock(base time.Time) *coarseClock {
	c := &coarseClock{base: base}
	c.now.Store(-1)
	return c
}

// read returns the time since base, to within coarseTick.
func (c *coarseClock) read() int64 {
	if v := c.now.Load(); v >= 0 {
		return v
	}
	return c.refresh()
}

// refresh reads the clock and serves that reading for the next coarseTick,
// unless another reader got there first (then it returns that reading) or
// the clock is closed (then it returns its own, and arms nothing).
func (c *coarseClock) refresh() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.now.Load(); v >= 0 {
		return v
	}
	now := int64(time.Since(c.base))
	if c.closed {
		return now
	}
	c.now.Store(now)
	c.armed.Add(1)
	if c.timer == nil {
		c.timer = time.AfterFunc(coarseTick, c.expire)
	} else {
		c.timer.Reset(coarseTick)
	}
	return now
}

// expire runs on the timer: the reading is stale from now on.
func (c *coarseClock) expire() {
	c.now.Store(-1)
	c.armed.Done()
}

// close stops the clock: reads from now on read the clock every time, and
// when close returns no timer is armed and none is running.
func (c *coarseClock) close() {
	c.mu.Lock()
	c.closed = true
	c.now.Store(-1)
	if c.timer != nil && c.timer.Stop() {
		c.armed.Done() // it will not fire
	}
	c.mu.Unlock()
	c.armed.Wait() // for a firing already under way
}
