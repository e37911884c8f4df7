package pubsub

import "sync/atomic"

// Stats counts what a bus did since it was made. Counters only grow.
type Stats struct {
	// Published counts successful Publish calls (dead letters excluded).
	Published uint64
	// Delivered counts handler calls that succeeded.
	Delivered uint64
	// Failed counts handler calls that returned an error or panicked (a
	// hand-back, see ErrHandBack, is not a failure).
	Failed uint64
	// Panics counts handler calls that panicked (also in Failed).
	Panics uint64
	// Retried counts deliveries scheduled again after a failure.
	Retried uint64
	// DeadLettered counts messages sent to the dead-letter topic.
	DeadLettered uint64
	// DeadDropped counts dead letters whose own handler failed: they are
	// dropped rather than dead-lettered again.
	DeadDropped uint64
	// DroppedOldest and DroppedNewest count messages a full memory queue
	// discarded (OverflowDropOldest, OverflowDropNewest, and dead letters,
	// which never block, to a full OverflowBlock queue).
	DroppedOldest, DroppedNewest uint64
	// Rejected counts messages refused with ErrQueueFull (OverflowError).
	Rejected uint64
	// HandedBack counts messages a stopping subscription released
	// unfinished (ErrHandBack, or its drain ran out of time): back to their
	// group's queue in memory, claimable at once by another consumer on
	// Redis.
	HandedBack uint64
	// Abandoned counts memory messages dropped because their subscription
	// stopped with no other group member left to take them (hand-backs at
	// Shutdown, or with the last member gone).
	Abandoned uint64
	// Reclaimed counts Redis messages this bus's consumers took over from
	// consumers that stopped heartbeating.
	Reclaimed uint64
	// Recovered counts Redis messages a consumer of this bus took back
	// from its own pending entries because the read that took them lost
	// its reply (a timeout, a cut connection, a read go-redis sent again):
	// delivered within a second rather than after the visibility timeout.
	Recovered uint64
	// Errors counts Redis calls of consumers that failed (reads, acks,
	// heartbeats); the bus retries them or leaves the message pending.
	Errors uint64
	// Rebinds counts the groups (durable or of a plain subscription) that a
	// running subscription of this bus found gone from Redis and bound
	// again: after Redis lost its data (FLUSHALL, a restart without
	// persistence), or after a plain subscription cut off from Redis for
	// longer than its lease was reaped.
	Rebinds uint64
}

type counters struct {
	published, delivered, failed, panics, retried, deadLettered, deadDropped atomic.Uint64
	droppedOldest, droppedNewest, rejected, abandoned, errors, rebinds       atomic.Uint64
	handedBack, reclaimed, recovered                                         atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Published: c.published.Load(), Delivered: c.delivered.Load(), Failed: c.failed.Load(),
		Panics: c.panics.Load(), Retried: c.retried.Load(), DeadLettered: c.deadLettered.Load(),
		DeadDropped: c.deadDropped.Load(), DroppedOldest: c.droppedOldest.Load(),
		DroppedNewest: c.droppedNewest.Load(), Rejected: c.rejected.Load(), Abandoned: c.abandoned.Load(), Errors: c.errors.Load(),
		Rebinds: c.rebinds.Load(), HandedBack: c.handedBack.Load(), Reclaimed: c.reclaimed.Load(),
		Recovered: c.recovered.Load(),
	}
}
