package cache

import (
	"context"
	"crypto/rand"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Tiered is a two-level Cache: a local LRU in front of a Redis cache that
// a fleet shares. Reads try the LRU first (no network: a local hit costs
// no allocation) and fill it from Redis; writes and deletes go to Redis
// and then tell every other instance, over a Redis pub/sub channel, to drop
// the keys from its local tier.
//
// Pub/sub delivers at most once: a message sent while an instance's
// subscription is down is lost to it. So an instance flushes its whole
// local tier whenever its subscription drops (a connection error, or no
// answer to a ping within about 2s of silence: the subscription is then
// replaced) and again when it is back, and fills the local tier only while
// subscribed; WithLocalTTL (default DefaultLocalTTL, and never longer than the
// value has left in Redis) bounds staleness in any case. With
// WithServeStaleWhileDetached it keeps serving the local tier for a
// bounded time while the subscription is down instead (see there for the
// trade-off). While Redis is
// down every read is a local miss and costs one bounded Redis call
// (WithTimeout of the Redis cache). A local fill that raced an invalidation of the
// same key is discarded, so an invalidation cannot be undone by a read of
// the old value that was in flight.
//
// Concurrent local misses of one key share one Redis read: a burst of
// reads of a key not yet in the local tier costs one round trip, not one
// per reader (which could exhaust the connection pool). A reader whose
// ctx ends stops waiting; the read goes on for the others, and is
// cancelled when none is left. A reader never joins a read that began
// before an invalidation or a write of the key it knows of, so it still
// reads its own writes.
//
// A local hit costs no allocation and usually no clock read: while a
// Tiered is open (and unless the LRU has a WithClock of its own) its LRU
// reads the clock at most about once a millisecond and reuses that reading
// in between, so local entries expire up to about a millisecond late (more
// when the process is starved of CPU). What marks the reading stale is a
// timer armed only while the local tier is being read, so a busy Tiered
// costs at most one clock read and one timer firing per millisecond, and
// an idle one wakes nothing (a ticker would wake it 1000 times a second
// for nothing). Close waits for a firing under way: no goroutine of a
// Tiered outlives its Close.
//
// Close stops the subscription and the clock; Tiered does not close the
// LRU or the Redis client.
type Tiered[V any] struct {
	local    *LRU[V]
	remote   *Redis[V]
	localTTL time.Duration
	channel  string
	id       string // this instance, to skip its own messages
	hooks    hooks
	health   time.Duration // silence after which the subscription is pinged

	// epochs count invalidations by a stripe of the key space; a fill is
	// kept only if its stripe saw none while it read Redis.
	epochs [64]atomic.Uint64
	live   atomic.Bool // subscribed: local fills are safe
	lost   atomic.Bool // the subscription was lost and is not back yet

	// staleMax is WithServeStaleWhileDetached's maxAge (0: flush on loss);
	// staleUntil is when, on the local LRU's clock, the detached local
	// tier stops being served (0: not serving it detached).
	staleMax   time.Duration
	staleUntil atomic.Int64

	reads remoteReads[V] // Redis reads in flight, shared by their readers

	listener *redisx.Listener
	clock    *coarseClock // the local tier's clock while open; nil: none
	closed   atomic.Bool

	remoteHits, misses, invalidations, errs, shared, staleHits atomic.Uint64
}

var _ EntryCache[int] = (*Tiered[int])(nil)

// tieredHealthInterval is how long a silent subscription goes before it
// is pinged, and then how long the ping may take before the subscription
// is replaced (tests shorten it). Shorter than redisx's default: a hung
// subscription leaves local copies stale until it is noticed, so 1s bounds
// that staleness to about 2s.
var tieredHealthInterval = time.Second

// NewTiered returns a Tiered cache over local and remote and subscribes to
// the invalidation channel. Options: WithLocalTTL (default
// DefaultLocalTTL), WithChannel (default remote's prefix +
// "{}invalidate"), WithServeStaleWhileDetached (default off: flush on a
// lost subscription), WithObserver, WithLogger, WithOnError.
// Errors wrap ErrInvalidConfig.
func NewTiered[V any](local *LRU[V], remote *Redis[V], opts ...TieredOption) (*Tiered[V], error) {
	if local == nil || remote == nil {
		return nil, fmt.Errorf("%w: NewTiered needs a local LRU and a remote Redis", ErrInvalidConfig)
	}
	o := tieredConfig{localTTL: DefaultLocalTTL, channel: remote.prefix + invalidateMarker}
	if err := apply(&o, opts, TieredOption.applyTiered); err != nil {
		return nil, err
	}
	t := &Tiered[V]{
		local: local, remote: remote, localTTL: o.localTTL,
		channel: o.channel, id: rand.Text(),
		hooks: o.hooks, health: tieredHealthInterval, staleMax: o.staleMax,
	}
	t.listener = t.listen()
	if local.now == nil {
		// Unless another Tiered over the same LRU already keeps its clock.
		if cc := newCoarseClock(local.base); local.coarse.CompareAndSwap(nil, cc) {
			t.clock = cc
		}
	}
	return t, nil
}

// Get returns key's value from the local tier, or else from Redis (then
// keeping it locally). A negative entry is a miss.
func (t *Tiered[V]) Get(ctx context.Context, key string) (V, bool, error) {
	if v, ok, _ := t.local.Get(ctx, key); ok && t.localServable() {
		return v, true, nil
	}
	var zero V
	e, ok, err := t.fill(ctx, key)
	if err != nil || !ok || e.NotFound {
		return zero, false, err
	}
	return e.Value, true, nil
}

// GetEntry is Get with the entry's metadata (TTL: what it has left in
// Redis, as Redis.GetEntry reports it), negative entries included.
func (t *Tiered[V]) GetEntry(ctx context.Context, key string) (Entry[V], bool, error) {
	if e, ok, _ := t.local.GetEntry(ctx, key); ok && t.localServable() {
		return e, true, nil
	}
	return t.fill(ctx, key)
}

// fill reads key from Redis, sharing the read with concurrent callers
// (see remoteReads), and counts the outcome.
func (t *Tiered[V]) fill(ctx context.Context, key string) (Entry[V], bool, error) {
	e, ok, shared, err := t.reads.do(ctx, t, key)
	if shared {
		t.shared.Add(1)
	}
	switch {
	case err != nil:
		t.errs.Add(1)
	case !ok || e.NotFound:
		t.misses.Add(1)
	default:
		t.remoteHits.Add(1)
	}
	return e, ok, err
}

// readRemote reads key from Redis and keeps it locally unless an
// invalidation of its stripe arrived since epoch was read or the
// subscription is down.
func (t *Tiered[V]) readRemote(ctx context.Context, key string, stripe *atomic.Uint64, epoch uint64) (Entry[V], bool, error) {
	e, ok, err := t.remote.GetEntry(ctx, key)
	if err != nil || !ok {
		return e, false, err
	}
	if t.live.Load() && stripe.Load() == epoch {
		t.keepLocal(key, e)
		if stripe.Load() != epoch { // an invalidation slipped in: undo
			_ = t.local.Delete(context.Background(), key)
		}
	}
	return e, true, nil
}

// stripe returns the invalidation counter of key's stripe.
func (t *Tiered[V]) stripe(key string) *atomic.Uint64 {
	return &t.epochs[maphash.String(t.local.seed, key)%uint64(len(t.epochs))]
}

// keepLocal stores e in the local tier for at most the local TTL and no
// longer than it has left in Redis (e.TTL, 0: no expiry).
func (t *Tiered[V]) keepLocal(key string, e Entry[V]) {
	ttl := t.localTTL
	if e.TTL > 0 {
		ttl = min(ttl, e.TTL)
	}
	t.local.set(key, e.Value, e.NotFound, e.LoadTime, ttl, e.TTL)
}

// Set stores v in Redis and locally, and tells the other instances to drop
// their local copies of key.
func (t *Tiered[V]) Set(ctx context.Context, key string, v V, ttl time.Duration) error {
	return t.SetEntry(ctx, key, Entry[V]{Value: v, TTL: ttl})
}

// SetEntry is Set with the entry's metadata.
func (t *Tiered[V]) SetEntry(ctx context.Context, key string, e Entry[V]) error {
	stripe := t.stripe(key)
	epoch := stripe.Load()
	if err := t.remote.setEntry(ctx, key, e, t.channel, t.message(key)); err != nil {
		_ = t.local.Delete(ctx, key) // whatever it held may be stale now
		return err
	}
	if t.live.Load() && stripe.Load() == epoch {
		t.keepLocal(key, e)
		if stripe.Load() != epoch {
			_ = t.local.Delete(ctx, key)
		}
		return nil
	}
	// Not kept: a copy served while detached is stale now.
	t.dropLocal([]string{key})
	return nil
}

// Delete drops keys from Redis and from every instance's local tier. The
// local copies here go even when Redis fails (the error is returned).
func (t *Tiered[V]) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	err := t.remote.delete(ctx, keys, t.channel, t.message(keys...))
	t.dropLocal(keys)
	return err
}

// dropLocal removes keys from the local tier and voids fills in progress.
func (t *Tiered[V]) dropLocal(keys []string) {
	for _, k := range keys {
		t.stripe(k).Add(1)
	}
	_ = t.local.Delete(context.Background(), keys...)
}

// flushLocal empties the local tier and voids every fill in progress.
func (t *Tiered[V]) flushLocal() {
	for i := range t.epochs {
		t.epochs[i].Add(1)
	}
	t.local.Purge()
	t.invalidations.Add(1)
}

// Stats returns Hits (LocalHits of them from the local tier, StaleHits of
// those while detached) and Misses over both tiers, Shared (local misses
// that joined another caller's Redis read), the local tier's Evictions,
// Expirations and Rejections, Invalidations (keys dropped on other
// instances' messages, plus flushes) and CacheErrors.
func (t *Tiered[V]) Stats() Stats {
	l := t.local.Stats()
	return Stats{
		Hits: l.Hits + t.remoteHits.Load(), LocalHits: l.Hits, StaleHits: t.staleHits.Load(),
		Misses: t.misses.Load(), Shared: t.shared.Load(),
		Evictions: l.Evictions, Expirations: l.Expirations, Rejections: l.Rejections,
		Invalidations: t.invalidations.Load(), CacheErrors: t.errs.Load(),
	}
}

// Close stops the invalidation subscription, cancels the Redis reads in
// flight (their readers get the error) and waits for them, and empties the
// local tier. Later reads go to Redis and are no longer kept locally.
func (t *Tiered[V]) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	t.listener.Close() // no callback runs after this: live stays false
	t.live.Store(false)
	t.staleUntil.Store(0)
	t.reads.close()
	if t.clock != nil {
		t.clock.close()
		t.local.coarse.CompareAndSwap(t.clock, nil)
	}
	t.flushLocal()
	return nil
}

// reportError counts a failure of the subscription and reports it as an
// event of kind k.
func (t *Tiered[V]) reportError(k EventKind, err error) {
	t.errs.Add(1)
	t.hooks.emit(Event{Kind: k, Err: err})
}
