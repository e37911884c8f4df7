package cache

import (
	"context"
	"sync/atomic"
	"time"
)

// readFence reads key from Redis, not the local tier, with the fence a
// load's store needs (see Redis.readFence), keeping a value it finds
// locally as a fill would.
func (t *Tiered[V]) readFence(ctx context.Context, key string) (Entry[V], bool, fence, error) {
	stripe := t.stripe(key)
	epoch := stripe.Load()
	e, ok, f, err := t.remote.readFence(ctx, key)
	switch {
	case err != nil:
		t.errs.Add(1)
		return e, false, f, err
	case !ok || e.NotFound:
		t.misses.Add(1)
	default:
		t.remoteHits.Add(1)
	}
	if ok {
		t.keepIfUnchanged(key, e, stripe, epoch)
	}
	return e, ok, f, nil
}

// setFenced stores e in Redis unless key changed there since f was read,
// and then, as SetEntry does, locally and in no other instance's local
// tier.
func (t *Tiered[V]) setFenced(ctx context.Context, key string, e Entry[V], f fence) (bool, error) {
	stripe := t.stripe(key)
	epoch := stripe.Load()
	stored, err := t.remote.setFencedPublish(ctx, key, e, f, t.channel, t.message(key))
	if err != nil {
		_ = t.local.Delete(ctx, key) // whatever it held may be stale now
		return false, err
	}
	if stored && !t.keepIfUnchanged(key, e, stripe, epoch) {
		t.dropLocal([]string{key}) // a copy served while detached is stale now
	}
	return stored, nil
}

// invalidate replaces keys in Redis with tombstones for hold (see
// Redis.invalidate) and drops them from every instance's local tier. The
// local copies here go even when Redis fails (the error is returned).
func (t *Tiered[V]) invalidate(ctx context.Context, keys []string, hold time.Duration) error {
	if len(keys) == 0 {
		return nil
	}
	err := t.remote.invalidatePublish(ctx, keys, hold, t.channel, t.message(keys...))
	t.dropLocal(keys)
	return err
}

// keepIfUnchanged keeps e locally if subscribed and no invalidation of
// key's stripe arrived since epoch was read; it reports whether it tried.
func (t *Tiered[V]) keepIfUnchanged(key string, e Entry[V], stripe *atomic.Uint64, epoch uint64) bool {
	if !t.live.Load() || stripe.Load() != epoch {
		return false
	}
	t.keepLocal(key, e)
	if stripe.Load() != epoch { // an invalidation slipped in: undo
		_ = t.local.Delete(context.Background(), key)
	}
	return true
}
