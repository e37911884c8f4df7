package analytics

import "sync/atomic"

// Counters are what an Analytics did since New, in this process. They only
// grow.
type Counters struct {
	// Recorded counts clicks Record accepted.
	Recorded int64
	// Overloaded counts clicks Record refused with ErrOverloaded.
	Overloaded int64
	// Published counts clicks put on the bus.
	Published int64
	// Lost counts clicks given up on: not published within
	// DefaultPublishPatience or by Close's deadline, or not stored after
	// the bus's last attempt (dead-lettered).
	Lost int64
	// Stored counts clicks this instance appended to the store.
	Stored int64
	// Duplicates counts redelivered clicks the store refused as already
	// stored. (An exact retry is a no-op the store reports as a success,
	// so it counts in Stored.)
	Duplicates int64
}

type counters struct {
	recorded, overloaded, published, stored, duplicates, handled atomic.Int64
	// unpublished: lost before the bus; unstored: dead-lettered after it.
	unpublished, unstored atomic.Int64
}

// pending is what this instance recorded and has not stored (or lost)
// yet; on a fleet sharing a Redis bus it can go negative (this instance
// stored others' clicks).
func (c *counters) pending() int64 {
	return c.recorded.Load() - c.unpublished.Load() - c.handled.Load()
}

// Counters returns the counters (lock-free).
func (a *Analytics) Counters() Counters {
	c := &a.counters
	return Counters{
		Recorded:   c.recorded.Load(),
		Overloaded: c.overloaded.Load(),
		Published:  c.published.Load(),
		Lost:       c.unpublished.Load() + c.unstored.Load(),
		Stored:     c.stored.Load(),
		Duplicates: c.duplicates.Load(),
	}
}
