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
	// Stored counts clicks this instance appended to the store, each once.
	Stored int64
	// Duplicates counts redeliveries (the bus delivers at least once) of
	// clicks this instance had handled already; the store's event ids keep
	// them out of the statistics in any case.
	Duplicates int64
}

type counters struct {
	recorded, overloaded, published, stored, duplicates, handled atomic.Int64
	// unpublished: lost before the bus; unstored: dead-lettered after it.
	unpublished, unstored atomic.Int64
}

// buffered is what this instance recorded and has not published (nor
// given up on) yet.
func (c *counters) buffered() int64 {
	return c.recorded.Load() - c.published.Load() - c.unpublished.Load()
}

// unconsumed is what this instance published and its consumers have not
// handled yet: meaningful on an in-process bus only, where nobody else
// consumes (on Redis, another instance may take them).
func (c *counters) unconsumed() int64 {
	return c.published.Load() - c.handled.Load()
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
