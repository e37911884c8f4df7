package queue

import "sync/atomic"

// Stats counts what one queue value did since it was made (on Redis: this
// process's calls, not the whole fleet's; Len counts the whole queue).
type Stats struct {
	// Enqueued: jobs accepted by Enqueue (duplicates not counted).
	Enqueued uint64
	// Delivered: deliveries returned by Dequeue; DeliveredByPriority
	// splits them by the job's priority (index Low…Critical; 0 unused).
	Delivered           uint64
	DeliveredByPriority [Critical + 1]uint64
	// Acked, Retried, Deferred: deliveries ended so.
	Acked, Retried, Deferred uint64
	// Cancelled: jobs removed by Cancel.
	Cancelled uint64
	// Reclaimed: jobs whose lease had expired, taken back by this
	// process's Dequeue (Redis only).
	Reclaimed uint64
	// LeaseLost: deliveries of this process whose lease was gone when it
	// renewed or ended them.
	LeaseLost uint64
	// Released: leases Close gave back.
	Released uint64
}

type counters struct {
	enqueued, delivered, acked, retried, deferred, cancelled, reclaimed, leaseLost, released atomic.Uint64
	byPriority                                                                               [Critical + 1]atomic.Uint64
}

func (c *counters) deliveredOne(p Priority) {
	c.delivered.Add(1)
	if p >= Low && p <= Critical {
		c.byPriority[p].Add(1)
	}
}

func (c *counters) snapshot() Stats {
	s := Stats{Enqueued: c.enqueued.Load(), Delivered: c.delivered.Load(), Acked: c.acked.Load(),
		Retried: c.retried.Load(), Deferred: c.deferred.Load(), Cancelled: c.cancelled.Load(),
		Reclaimed: c.reclaimed.Load(), LeaseLost: c.leaseLost.Load(), Released: c.released.Load()}
	for p := Low; p <= Critical; p++ {
		s.DeliveredByPriority[p] = c.byPriority[p].Load()
	}
	return s
}
