package cache

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"time"
)

// fenceStripes is how many generations an LRU keeps for fencing. An
// invalidation voids the loads in flight of every key of its stripe, not
// only its own: they are answered but not stored, and the next miss loads
// again. 256 stripes keep that rare at any sane rate of writes, for 2 KiB.
const fenceStripes = 256

// fenceOf returns the generation of key's stripe.
func (c *LRU[V]) fenceOf(key string) *atomic.Uint64 {
	return &c.fences[maphash.String(c.seed, key)%fenceStripes]
}

// readFence is GetEntry with the generation of key's stripe, read first.
func (c *LRU[V]) readFence(ctx context.Context, key string) (Entry[V], bool, fence, error) {
	f := fence{valid: true, gen: c.fenceOf(key).Load()}
	e, ok, err := c.GetEntry(ctx, key)
	return e, ok, f, err
}

// setFenced stores e unless key's stripe was invalidated since f was
// read (or f is the zero fence).
func (c *LRU[V]) setFenced(_ context.Context, key string, e Entry[V], f fence) (bool, error) {
	if e.TTL < 0 {
		return false, fmt.Errorf("%w: SetEntry(%q): negative ttl %s", ErrInvalidRequest, key, e.TTL)
	}
	if !f.valid {
		return false, nil
	}
	return c.setIf(c.fenceOf(key), f.gen, key, e.Value, e.NotFound, e.LoadTime, e.TTL, e.TTL), nil
}

// invalidate bumps the keys' stripes, then deletes them: a fenced store
// that read a stripe before is refused, or lands before the delete. An
// LRU's fences never lapse: hold does not apply.
func (c *LRU[V]) invalidate(ctx context.Context, keys []string, _ time.Duration) error {
	for _, k := range keys {
		c.fenceOf(k).Add(1)
	}
	return c.Delete(ctx, keys...)
}
