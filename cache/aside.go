package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Loader reads a key's value from the source of truth (a database, a
// service). It returns an error wrapping ErrNotFound when the key does not
// exist there. It runs on a context of its own (see WithLoadTimeout).
type Loader[V any] func(ctx context.Context, key string) (V, error)

// Aside is the cache-aside pattern around a Cache and a Loader.
//
// Read (Get): the cache first; on a miss, the loader, once per key per
// process however many goroutines miss together (and, with
// WithFleetLock, about once per fleet); the value is then stored for the
// TTL, shortened by jitter. A loader's ErrNotFound is cached too, for the
// shorter negative TTL. A hit close to expiry may reload the key in the
// background first (XFetch early refresh).
//
// Write: update the source of truth, then Invalidate the keys. Aside
// never writes a value it did not load.
//
// On Redis a hit is one GET, and a cold read three round trips in a row
// (WithFleetLock adds the lock's): the GET that misses, the loader, and
// the store, fenced (see Invalidate) by what that GET found. The caller
// is answered once the store is done (unless Redis stopped answering the
// read), so that its next Get, and any process's, finds the value.
//
// A cache that fails never fails a read: the loader serves it, and the
// failure is counted (Stats.CacheErrors) and reported to WithObserver,
// WithLogger and WithOnError. A Redis that stops answering costs a read
// the Redis cache's WithTimeout for the cache read, plus the fleet lock's
// WithTimeout with WithFleetLock; waiting for another process's lock
// costs at most WithLockWait in all.
// Negative caching and early refresh need an EntryCache (LRU, Redis,
// Tiered); with another Cache they are off.
type Aside[V any] struct {
	entries EntryCache[V] // the cache, or plainEntries around it
	load    Loader[V]
	fleet   *fleetLock // nil without WithFleetLock

	// fenced is the cache when it fences loads against invalidations by
	// every process sharing it (LRU, Redis, Tiered), else nil; hold is how
	// long an Invalidate's fence lasts on Redis.
	fenced fencer[V]
	hold   time.Duration
	// missFence is the cache when a miss's read yields its load's fence
	// (Redis), else nil; ends tells when that fence may be reused (see
	// aside_missfence.go).
	missFence missFencer[V]
	ends      *flightEnds

	ttl, negTTL  time.Duration
	jitter, beta float64
	loadTimeout  time.Duration
	now          func() time.Time
	hooks        hooks
	rand         func() float64 // in [0, 1)

	mu      sync.Mutex
	flights map[string]*flight[V]
	closed  atomic.Bool
	loads   sync.WaitGroup // load goroutines
	closing context.Context
	stop    context.CancelFunc

	hits, misses, nLoads, loadErrors, notFound atomic.Uint64
	shared, fleetWaits, refreshes, cacheErrors atomic.Uint64
	fencedOff                                  atomic.Uint64
}

// NewAside returns an Aside reading through c with load. Options: WithTTL
// (default DefaultTTL), WithNegativeTTL or WithoutNegativeCaching (default
// DefaultNegativeTTL), WithJitter (default DefaultJitter), WithEarlyRefresh
// or WithoutEarlyRefresh (default DefaultEarlyRefresh), WithLoadTimeout
// (default DefaultLoadTimeout), WithFleetLock with its own options,
// WithClock, WithObserver, WithLogger, WithOnError. Errors wrap
// ErrInvalidConfig.
func NewAside[V any](c Cache[V], load Loader[V], opts ...AsideOption) (*Aside[V], error) {
	if c == nil || isNilPointer(c) {
		return nil, fmt.Errorf("%w: NewAside: nil Cache", ErrInvalidConfig)
	}
	if load == nil {
		return nil, fmt.Errorf("%w: NewAside: nil Loader", ErrInvalidConfig)
	}
	o := asideConfig{
		ttl: DefaultTTL, negTTL: DefaultNegativeTTL, jitter: DefaultJitter, beta: DefaultEarlyRefresh,
		loadTimeout: DefaultLoadTimeout, now: time.Now,
	}
	if err := apply(&o, opts, AsideOption.applyAside); err != nil {
		return nil, err
	}
	entries, rich := c.(EntryCache[V])
	if !rich {
		// A plain Cache keeps neither not-found markers nor load times.
		if o.negSet {
			return nil, fmt.Errorf("%w: WithNegativeTTL needs an EntryCache (LRU, Redis, Tiered); %T is not one", ErrInvalidConfig, c)
		}
		if o.betaSet {
			return nil, fmt.Errorf("%w: WithEarlyRefresh needs an EntryCache (LRU, Redis, Tiered); %T is not one", ErrInvalidConfig, c)
		}
		o.negTTL, o.beta = 0, 0
		entries = plainEntries[V]{c}
	}
	a := &Aside[V]{
		entries: entries, load: load,
		ttl: o.ttl, negTTL: o.negTTL, jitter: o.jitter, beta: o.beta,
		loadTimeout: o.loadTimeout, now: o.now, hooks: o.hooks,
		rand:    rand.Float64,
		flights: make(map[string]*flight[V]),
	}
	var lockWait time.Duration
	if o.lock != nil {
		lc := fleetConfig{prefix: cachePrefix(c), timeout: DefaultTimeout, wait: DefaultLockWait}
		if err := apply(&lc, o.lockOpts, FleetLockOption.applyFleetLock); err != nil {
			return nil, err
		}
		a.fleet = newFleetLock(o.lock, lc.prefix, lc.timeout, a.loadTimeout, lc.wait)
		lockWait = lc.wait
	}
	if fc, ok := c.(fencer[V]); ok {
		a.fenced, a.hold = fc, fenceHold(a.loadTimeout, lockWait)
		if mf, ok := c.(missFencer[V]); ok {
			a.missFence, a.ends = mf, newFlightEnds()
		}
	}
	a.closing, a.stop = context.WithCancel(context.Background())
	return a, nil
}

// Get returns key's value from the cache or, on a miss, from the loader.
// It returns the loader's error (for a key that does not exist, one
// wrapping ErrNotFound, also while that answer is cached), ctx's error if
// ctx ends first (the load carries on for the others), or ErrClosed.
func (a *Aside[V]) Get(ctx context.Context, key string) (V, error) {
	var zero V
	if a.closed.Load() {
		return zero, ErrClosed
	}
	cacheDown := false
	e, ok, m, err := a.read(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		cacheDown = true
		a.failed(EventCacheError, key, err)
	case ok:
		a.hits.Add(1)
		if e.NotFound {
			a.hooks.emit(Event{Kind: EventNegativeHit, Key: key})
			return zero, fmt.Errorf("%w: %q (cached)", ErrNotFound, key)
		}
		if a.beta > 0 && a.refreshDue(e) && a.refresh(ctx, key) {
			a.hooks.emit(Event{Kind: EventEarlyRefresh, Key: key})
		}
		return e.Value, nil
	}
	a.misses.Add(1)
	f := a.join(ctx, key, cacheDown, cacheDown && timedOut(err), m)
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// join returns key's flight, starting one if none is in progress.
// cacheDown: the caller's cache read failed, so the flight does not read
// the cache again before loading; timedOut: it did not answer in time;
// m: what the read gave that a new flight may reuse.
func (a *Aside[V]) join(ctx context.Context, key string, cacheDown, timedOut bool, m missRead) *flight[V] {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f, ok := a.flights[key]; ok {
		f.joined++
		a.shared.Add(1)
		return f
	}
	f := newFlight[V](false)
	f.cacheDown, f.cacheTimedOut = cacheDown, timedOut
	f.fence = a.reusable(key, m)
	if a.closed.Load() {
		var zero V
		f.finish(zero, ErrClosed)
		return f
	}
	a.start(ctx, key, f)
	return f
}

// start runs f's load in a goroutine of its own; the caller holds a.mu.
func (a *Aside[V]) start(ctx context.Context, key string, f *flight[V]) {
	a.flights[key] = f
	a.loads.Add(1)
	go a.run(context.WithoutCancel(ctx), key, f)
}

// refreshDue is XFetch's test: LoadTime × beta × −ln(U) ≥ the TTL left,
// with U uniform in (0, 1].
func (a *Aside[V]) refreshDue(e Entry[V]) bool {
	if e.TTL <= 0 || e.LoadTime <= 0 {
		return false
	}
	return -float64(e.LoadTime)*a.beta*math.Log(1-a.rand()) >= float64(e.TTL)
}

// refresh reloads key in the background unless a load of it is running;
// it reports whether it started one.
func (a *Aside[V]) refresh(ctx context.Context, key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.flights[key]; ok || a.closed.Load() {
		return false
	}
	a.refreshes.Add(1)
	a.start(ctx, key, newFlight[V](true))
	return true
}

// countLoad counts a loader call's outcome and reports a failure.
func (a *Aside[V]) countLoad(key string, err error, took time.Duration) {
	a.nLoads.Add(1)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		a.notFound.Add(1)
	default:
		a.loadErrors.Add(1)
		a.hooks.emit(Event{Kind: EventLoadError, Key: key, Duration: took, Err: err})
	}
}

// store caches a load's outcome: a value for the TTL, ErrNotFound for the
// negative TTL, anything else not at all. On a fencing cache the store is
// conditional on fc (see Invalidate). It returns the cache's error.
func (a *Aside[V]) store(key string, v V, err error, loadTime time.Duration, fc fence) error {
	if a.closed.Load() {
		return nil
	}
	var e Entry[V]
	switch {
	case !a.storable(err):
		return nil
	case err == nil:
		e = Entry[V]{Value: v, LoadTime: loadTime, TTL: a.jittered(a.ttl)}
	default:
		e = Entry[V]{NotFound: true, LoadTime: loadTime, TTL: a.jittered(a.negTTL)}
	}
	if a.fenced == nil {
		return a.entries.SetEntry(a.closing, key, e)
	}
	stored, setErr := a.fenced.setFenced(a.closing, key, e, fc)
	if setErr == nil && !stored {
		a.fencedOff.Add(1)
	}
	return setErr
}

// storable reports whether a load that ended with err is cached: a
// value, or ErrNotFound with negative caching on.
func (a *Aside[V]) storable(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) && a.negTTL > 0
}

// jittered shortens ttl by a random fraction of up to the jitter.
func (a *Aside[V]) jittered(ttl time.Duration) time.Duration {
	if a.jitter == 0 {
		return ttl
	}
	return max(ttl-time.Duration(a.jitter*a.rand()*float64(ttl)), time.Millisecond)
}

// Invalidate drops keys from the cache after the caller changed them in
// the source of truth. A load of one of the keys that is in progress in
// this process is not stored when it ends (it may have read the old
// value), and later callers do not join it.
//
// On an LRU, Redis or Tiered cache, Invalidate also fences off the loads
// of the keys in progress in every other process sharing the cache: a
// load that read the cache before the Invalidate does not store its
// result after it, so once Invalidate returns no load that began before
// it can put the old value back. On Redis and Tiered, Invalidate leaves a
// tombstone (a miss to every reader) under each key for twice the load
// timeout plus the fleet lock wait (WithLoadTimeout, WithLockWait): a load
// elsewhere that takes longer than that from its cache read to its store
// (one whose loader ignores its ctx, or an Aside with a longer load
// timeout) is no longer fenced off. Keys invalidated often cost Redis a
// tombstone each for that long. Over any other Cache only this process's
// loads are fenced off: another process's may store the old value for up
// to its TTL.
//
// The error is the cache's: the keys may still hold stale values, so
// retry or lower the TTL.
func (a *Aside[V]) Invalidate(ctx context.Context, keys ...string) error {
	if a.closed.Load() {
		return ErrClosed
	}
	var running []*flight[V]
	a.mu.Lock()
	for _, k := range keys {
		if f, ok := a.flights[k]; ok {
			running = append(running, f)
			delete(a.flights, k)
		}
		a.flightEnded(k)
	}
	a.mu.Unlock()
	for _, f := range running {
		f.mu.Lock() // waits for a store in progress, which Delete then undoes
		f.stale = true
		f.mu.Unlock()
	}
	var err error
	if a.fenced != nil {
		err = a.fenced.invalidate(ctx, keys, a.hold)
	} else {
		err = a.entries.Delete(ctx, keys...)
	}
	if err != nil {
		a.cacheErrors.Add(1)
		return err
	}
	return nil
}

// Stats returns Hits, Misses, Loads, LoadErrors, NotFound, Shared,
// FleetWaits, Refreshes, Fenced and CacheErrors.
func (a *Aside[V]) Stats() Stats {
	return Stats{
		Hits: a.hits.Load(), Misses: a.misses.Load(),
		Loads: a.nLoads.Load(), LoadErrors: a.loadErrors.Load(), NotFound: a.notFound.Load(),
		Shared: a.shared.Load(), FleetWaits: a.fleetWaits.Load(), Refreshes: a.refreshes.Load(),
		Fenced: a.fencedOff.Load(), CacheErrors: a.cacheErrors.Load(),
	}
}

// Close cancels the loads in progress (their waiters get the loader's
// answer to a cancelled ctx), waits for their goroutines and stops the
// fleet lock's subscription. Later calls return ErrClosed. It does not
// close the Cache.
func (a *Aside[V]) Close() error {
	a.mu.Lock() // no load starts after this
	wasClosed := a.closed.Swap(true)
	a.mu.Unlock()
	if wasClosed {
		return nil
	}
	a.stop()
	a.loads.Wait()
	if a.fleet != nil {
		a.fleet.close()
	}
	return nil
}

// failed counts a cache or fleet lock failure that was worked around and
// reports it as an event of kind k.
func (a *Aside[V]) failed(k EventKind, key string, err error) {
	a.cacheErrors.Add(1)
	a.hooks.emit(Event{Kind: k, Key: key, Err: err})
}

// plainEntries lets Aside use a Cache that stores bare values through the
// EntryCache interface. It cannot keep not-found markers or load times, so
// NewAside refuses negative caching and early refresh over it.
type plainEntries[V any] struct{ Cache[V] }

func (p plainEntries[V]) GetEntry(ctx context.Context, key string) (Entry[V], bool, error) {
	v, ok, err := p.Get(ctx, key)
	return Entry[V]{Value: v}, ok, err
}

func (p plainEntries[V]) SetEntry(ctx context.Context, key string, e Entry[V]) error {
	return p.Set(ctx, key, e.Value, e.TTL)
}
