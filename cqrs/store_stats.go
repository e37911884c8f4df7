package cqrs

import (
	"errors"
	"sync/atomic"
)

// StoreStats counts a store's appends since it was made, in this process.
type StoreStats struct {
	// Appends that succeeded, and the events they held (an exact retry
	// of an append with event ids counts again).
	Appends, Appended uint64
	// Conflicts: appends refused with ErrConflict (a stale expected
	// version: another writer won).
	Conflicts uint64
	// Errors: appends that failed otherwise (invalid events, Redis down).
	Errors uint64
}

// storeStats are the lock-free counters of MemoryStore and RedisStore.
type storeStats struct{ appends, appended, conflicts, errs atomic.Uint64 }

// count records the outcome of an append of n events.
func (c *storeStats) count(n int, err error) {
	switch {
	case err == nil:
		c.appends.Add(1)
		c.appended.Add(uint64(n))
	case errors.Is(err, ErrConflict):
		c.conflicts.Add(1)
	default:
		c.errs.Add(1)
	}
}

func (c *storeStats) load() StoreStats {
	return StoreStats{Appends: c.appends.Load(), Appended: c.appended.Load(),
		Conflicts: c.conflicts.Load(), Errors: c.errs.Load()}
}

// Stats returns the store's append counters (lock-free).
func (s *MemoryStore) Stats() StoreStats { return s.stats.load() }

// Stats returns this process's append counters of the store (lock-free);
// other processes appending to the same Redis count their own.
func (s *RedisStore) Stats() StoreStats { return s.stats.load() }
