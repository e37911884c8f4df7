package saga

import "sync/atomic"

// Stats counts what a Saga did in this process since it was made.
type Stats struct {
	// Started: executions begun by Execute (not replays, not takeovers).
	Started uint64
	// Completed, Compensated and Failed: sagas this process finished so.
	// Failed ones need an operator.
	Completed, Compensated, Failed uint64
	// Recovered: of those finished, the ones taken over from a process
	// that stopped (by Recover or by Execute).
	Recovered uint64
	// Retries: failed tries of an Action or a Compensate that were tried
	// again after a backoff.
	Retries uint64
	// Replayed: Execute calls of a finished id that returned its recorded
	// result.
	Replayed uint64
	// Stopped: runs that stopped unfinished because the log failed or
	// another process took the saga over (Recover finishes them).
	Stopped uint64
}

// counters are a Saga's lock-free Stats.
type counters struct {
	started, completed, compensated, failed, recovered, retries, replayed, stopped atomic.Uint64
}

// finished counts a saga this process finished with st.
func (c *counters) finished(st Status, recovered bool) {
	switch st {
	case Completed:
		c.completed.Add(1)
	case Compensated:
		c.compensated.Add(1)
	case Failed:
		c.failed.Add(1)
	}
	if recovered {
		c.recovered.Add(1)
	}
}

// Stats returns the saga's counters (lock-free).
func (s *Saga[T]) Stats() Stats {
	c := &s.stats
	return Stats{Started: c.started.Load(), Completed: c.completed.Load(), Compensated: c.compensated.Load(),
		Failed: c.failed.Load(), Recovered: c.recovered.Load(), Retries: c.retries.Load(),
		Replayed: c.replayed.Load(), Stopped: c.stopped.Load()}
}
