package cache

import (
	"context"
	"time"
)

// fence is what a load read of its key before calling the loader, so that
// its store can be made conditional on the key not having been
// invalidated since (by this process or any other sharing the cache).
// The zero fence, of a load that could not read one, lets a store through
// only where the key holds nothing at all (Redis: no value and no
// tombstone; an LRU, whose reads cannot fail, stores nothing): that can
// overwrite neither a newer value nor an invalidation.
type fence struct {
	valid bool   // read: a fenced store may go ahead if nothing changed
	gen   uint64 // LRU: the generation of the key's stripe
	sum   string // Redis: SHA-1 (hex) of the stored bytes; "" when absent
}

// fencer is a cache that fences loads against invalidations by anyone
// sharing it: LRU (in one process), Redis and Tiered (across a fleet).
// Aside uses it when its cache is one; with another Cache, only this
// process's loads in flight are fenced.
type fencer[V any] interface {
	// readFence reads key from the shared store (a Tiered's Redis tier,
	// not its local one) with the fence a store of a fresh load needs. A
	// value that does not decode is a miss here (with its fence), so that
	// a load can replace it.
	readFence(ctx context.Context, key string) (Entry[V], bool, fence, error)
	// setFenced stores e unless key changed since f was read: it reports
	// whether it stored.
	setFenced(ctx context.Context, key string, e Entry[V], f fence) (bool, error)
	// invalidate drops keys and voids every fence read of them before,
	// for at least hold: a store fenced by an older read fails until then.
	invalidate(ctx context.Context, keys []string, hold time.Duration) error
}

// missFencer is a fencer whose plain read of a key also yields, when the
// key is a miss, the fence readFence would read, at no extra cost (Redis:
// the GET's reply holds the bytes it is the SHA-1 of). Aside's Get reads
// through it, and the load its miss starts stores with that fence instead
// of reading the key again: one round trip less per cold read. Not
// Tiered (its read is the local tier's first) nor LRU (a read there costs
// nothing).
type missFencer[V any] interface {
	// getEntryFence is GetEntry with, for a miss Redis answered, its
	// fence; for a hit or an error, the zero fence.
	getEntryFence(ctx context.Context, key string) (Entry[V], bool, fence, error)
}

var _ missFencer[int] = (*Redis[int])(nil)

var (
	_ fencer[int] = (*LRU[int])(nil)
	_ fencer[int] = (*Redis[int])(nil)
	_ fencer[int] = (*Tiered[int])(nil)
)

// fenceHold is how long an Invalidate's fence holds on a Redis or Tiered
// cache: twice the load timeout, plus the fleet lock wait with
// WithFleetLock. A load reads its fence before it waits for the fleet
// lock and calls the loader, so a load in any process using the same
// settings ends within this, unless its loader ignores its ctx.
func fenceHold(loadTimeout, lockWait time.Duration) time.Duration {
	return 2*loadTimeout + lockWait
}
