package cache

import "time"

// The defaults of the options. Doc comments name these constants rather
// than repeat their values.
const (
	// DefaultPrefix is the prefix of a Redis cache's names (WithPrefix),
	// and of a fleet lock's names when its cache has no prefix of its own.
	DefaultPrefix = "cache:"
	// DefaultTimeout bounds each Redis call of a Redis cache, or of a fleet
	// lock (WithTimeout).
	DefaultTimeout = 100 * time.Millisecond
	// DefaultTTL is how long Aside caches a loaded value, before jitter
	// (WithTTL).
	DefaultTTL = 5 * time.Minute
	// DefaultNegativeTTL is how long Aside caches a loader's ErrNotFound
	// (WithNegativeTTL).
	DefaultNegativeTTL = 10 * time.Second
	// DefaultJitter is the largest fraction by which Aside shortens a TTL
	// at random (WithJitter).
	DefaultJitter = 0.1
	// DefaultEarlyRefresh is beta of Aside's early refresh
	// (WithEarlyRefresh).
	DefaultEarlyRefresh = 1.0
	// DefaultLoadTimeout bounds each loader call of an Aside
	// (WithLoadTimeout), and so how long a fleet lock is held.
	DefaultLoadTimeout = 10 * time.Second
	// DefaultLockWait bounds how long Aside waits for another process
	// holding the fleet lock (WithLockWait).
	DefaultLockWait = time.Second
	// DefaultLocalTTL caps how long Tiered keeps a value in its local tier
	// (WithLocalTTL).
	DefaultLocalTTL = time.Minute
	// DefaultShards is the number of an LRU's shards (WithShards): one,
	// an exact LRU.
	DefaultShards = 1
	// MaxShards is the most shards WithShards accepts.
	MaxShards = 1024
)
