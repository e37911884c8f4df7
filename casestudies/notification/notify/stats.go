package notify

import "sync/atomic"

// Stats counts what the service did since New, lock-free.
type Stats struct {
	Accepted   uint64 // notifications accepted (duplicates by idempotency key not counted)
	Duplicates uint64 // posts answered with an earlier notification's id
	Sent       uint64 // channel deliveries the provider accepted
	Retried    uint64 // transient failures scheduled for another attempt
	Failed     uint64 // deliveries failed for good
	Skipped    uint64 // deliveries skipped: the user opted out
	Deferred   uint64 // deliveries put back without an attempt: quiet hours, rate limit, open circuit
	Cancelled  uint64 // deliveries cancelled before they started
}

type counters struct {
	accepted, duplicates, sent, retried, failed, skipped, deferred, cancelled atomic.Uint64
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	c := &s.stats
	return Stats{Accepted: c.accepted.Load(), Duplicates: c.duplicates.Load(), Sent: c.sent.Load(),
		Retried: c.retried.Load(), Failed: c.failed.Load(), Skipped: c.skipped.Load(),
		Deferred: c.deferred.Load(), Cancelled: c.cancelled.Load()}
}

// count adds one to the counter of status st.
func (c *counters) count(st Status) {
	switch st {
	case Sent:
		c.sent.Add(1)
	case Retrying:
		c.retried.Add(1)
	case Failed:
		c.failed.Add(1)
	case Skipped:
		c.skipped.Add(1)
	case Deferred:
		c.deferred.Add(1)
	case Cancelled:
		c.cancelled.Add(1)
	}
}
