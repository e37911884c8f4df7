package cache

import (
	"context"
	"time"
)

// Cache is a key-value cache with per-entry TTLs. LRU, Redis and Tiered
// implement it; Aside puts a loader in front of any Cache.
//
// Get reports a miss as (zero, false, nil); an error means the cache
// itself failed (Redis unreachable, a value that does not decode), and the
// caller should treat it as a miss it cannot trust. A ttl of 0 means no
// expiry; a negative ttl is an error wrapping ErrInvalidRequest.
type Cache[V any] interface {
	Get(ctx context.Context, key string) (V, bool, error)
	Set(ctx context.Context, key string, v V, ttl time.Duration) error // ttl 0: no expiry
	Delete(ctx context.Context, keys ...string) error
}

// Entry is a cached value with the metadata Aside keeps beside it: whether
// it records a miss of the source of truth (negative caching), how long the
// loader took to compute it (for probabilistic early refresh) and its time
// to live.
type Entry[V any] struct {
	Value    V
	NotFound bool          // the loader answered ErrNotFound: a negative entry
	LoadTime time.Duration // how long the loader took to produce Value
	// TTL: in SetEntry, the time to live (0: no expiry); from GetEntry, the
	// time it has left (0: no expiry).
	TTL time.Duration
}

// EntryCache is a Cache that stores an Entry's metadata with its value.
// LRU, Redis and Tiered implement it. Aside needs it for negative caching
// and early refresh; with a plain Cache it does without both.
//
// Get on a negative entry (NotFound) reports a miss; GetEntry reports it.
type EntryCache[V any] interface {
	Cache[V]
	GetEntry(ctx context.Context, key string) (Entry[V], bool, error)
	SetEntry(ctx context.Context, key string, e Entry[V]) error
}
