package queue

// StopRenewingForTest stops q's lease renewer, as in a process that hangs:
// its leases expire and other consumers reclaim its jobs.
func (q *Redis) StopRenewingForTest() { q.stopRenewing() }

// CrashForTest stops q as a killed process stops: no more calls, and the
// leases it holds are not released (they expire).
func (q *Redis) CrashForTest() { q.stop() }

// EnqueuedInBatchesForTest is how many jobs q sent in batches of
// concurrent Enqueues (not alone).
func (q *Redis) EnqueuedInBatchesForTest() uint64 { return q.enqueues.Batched() }

// TakenInBatchesForTest is how many Dequeues and Nexts q sent in batches
// (not alone).
func (q *Redis) TakenInBatchesForTest() uint64 { return q.takes.Batched() }
