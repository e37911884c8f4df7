package cache

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"runtime/debug"
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
// A cache that fails never fails a read: the loader serves it, and the
// failure is counted (Stats.CacheErrors) and reported to WithOnError. A
// Redis that stops answering costs a read one WithTimeout for the cache
// read, plus one for the fleet lock with WithFleetLock; waiting for
// another process's lock costs at most WithLockWait in all.
// Negative caching and early refresh need an EntryCache (LRU, Redis,
// Tiered); with another Cache they are off.
type Aside[V any] struct {
	entries EntryCache[V] // the cache, or plainEntries around it
	load    Loader[V]
	fleet   *fleetLock // nil without WithFleetLock

	ttl, negTTL  time.Duration
	jitter, beta float64
	loadTimeout  time.Duration
	now          func() time.Time
	onError      func(key string, err error)
	rand         func() float64 // in [0, 1)

	mu      sync.Mutex
	flights map[string]*flight[V]
	closed  atomic.Bool
	loads   sync.WaitGroup // load goroutines
	closing context.Context
	stop    context.CancelFunc

	hits, misses, nLoads, loadErrors, notFound atomic.Uint64
	shared, fleetWaits, refreshes, cacheErrors atomic.Uint64
}

// NewAside returns an Aside reading through c with load. Options: WithTTL
// (default 5m), WithNegativeTTL or WithoutNegativeCaching (default 10s),
// WithJitter (default 0.1), WithEarlyRefresh or WithoutEarlyRefresh
// (default beta 1), WithLoadTimeout (default 10s), WithFleetLock with
// WithLockWait (default 1s), WithPrefix (of the lock's names, default the
// prefix of c when c is a Redis or Tiered, else "cache:") and WithTimeout
// (of the lock's Redis calls, default 100ms), WithClock, WithOnError.
// Errors wrap ErrInvalidConfig.
func NewAside[V any](c Cache[V], load Loader[V], opts ...Option) (*Aside[V], error) {
	if c == nil || isNilPointer(c) {
		return nil, fmt.Errorf("%w: NewAside: nil Cache", ErrInvalidConfig)
	}
	if load == nil {
		return nil, fmt.Errorf("%w: NewAside: nil Loader", ErrInvalidConfig)
	}
	o, err := applyOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := o.only("NewAside", optTTL|optNegativeTTL|optJitter|optEarlyRefresh|optLoadTimeout|
		optFleetLock|optLockWait|optPrefix|optTimeout|optClock|optOnError); err != nil {
		return nil, err
	}
	a := &Aside[V]{
		load: load,
		ttl:  5 * time.Minute, negTTL: 10 * time.Second, jitter: 0.1, beta: 1,
		loadTimeout: 10 * time.Second, now: time.Now, onError: o.onError,
		rand:    rand.Float64,
		flights: make(map[string]*flight[V]),
	}
	entries, rich := c.(EntryCache[V])
	if !rich {
		entries = plainEntries[V]{c}
	}
	a.entries = entries
	if o.set&optTTL != 0 {
		a.ttl = o.ttl
	}
	if o.set&optNegativeTTL != 0 {
		a.negTTL = o.negTTL
	}
	if o.set&optJitter != 0 {
		a.jitter = o.jitter
	}
	if o.set&optEarlyRefresh != 0 {
		a.beta = o.beta
	}
	if o.set&optLoadTimeout != 0 {
		a.loadTimeout = o.loadTO
	}
	if o.set&optClock != 0 {
		a.now = o.now
	}
	if !rich {
		if o.set&optNegativeTTL != 0 && a.negTTL > 0 {
			return nil, fmt.Errorf("%w: WithNegativeTTL needs an EntryCache (LRU, Redis, Tiered); %T is not one", ErrInvalidConfig, c)
		}
		if o.set&optEarlyRefresh != 0 && a.beta > 0 {
			return nil, fmt.Errorf("%w: WithEarlyRefresh needs an EntryCache (LRU, Redis, Tiered); %T is not one", ErrInvalidConfig, c)
		}
		a.negTTL, a.beta = 0, 0
	}
	if o.set&optFleetLock == 0 && o.set&(optLockWait|optPrefix|optTimeout) != 0 {
		return nil, fmt.Errorf("%w: WithLockWait, WithPrefix and WithTimeout configure the fleet lock: they need WithFleetLock", ErrInvalidConfig)
	}
	if o.lock != nil {
		prefix, timeout, wait := cachePrefix(c), 100*time.Millisecond, time.Second
		if o.set&optPrefix != 0 {
			prefix = o.prefix
		}
		if o.set&optTimeout != 0 {
			timeout = o.timeout
		}
		if o.set&optLockWait != 0 {
			wait = o.lockWait
		}
		a.fleet = newFleetLock(o.lock, prefix, timeout, a.loadTimeout, wait)
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
	e, ok, err := a.entries.GetEntry(ctx, key)
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return zero, ctx.Err()
		}
		cacheDown = true
		a.cacheFailed(key, err)
	case ok:
		a.hits.Add(1)
		if e.NotFound {
			return zero, fmt.Errorf("%w: %q (cached)", ErrNotFound, key)
		}
		if a.beta > 0 && a.refreshDue(e) {
			a.refresh(ctx, key)
		}
		return e.Value, nil
	}
	a.misses.Add(1)
	f := a.join(ctx, key, cacheDown, cacheDown && timedOut(err))
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// join returns key's flight, starting one if none is in progress.
// cacheDown: the caller's cache read failed, so the flight does not read
// the cache again before loading; timedOut: it did not answer in time.
func (a *Aside[V]) join(ctx context.Context, key string, cacheDown, timedOut bool) *flight[V] {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f, ok := a.flights[key]; ok {
		f.joined++
		a.shared.Add(1)
		return f
	}
	f := newFlight[V](false)
	f.cacheDown, f.cacheTimedOut = cacheDown, timedOut
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

// refresh reloads key in the background unless a load of it is running.
func (a *Aside[V]) refresh(ctx context.Context, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.flights[key]; ok || a.closed.Load() {
		return
	}
	a.refreshes.Add(1)
	a.start(ctx, key, newFlight[V](true))
}

// run loads key for f's waiters, then stores the result and ends f. ctx
// carries the first caller's values, but not its cancellation.
func (a *Aside[V]) run(ctx context.Context, key string, f *flight[V]) {
	defer a.loads.Done()
	ctx, cancel := context.WithTimeout(ctx, a.loadTimeout)
	defer cancel()
	stop := context.AfterFunc(a.closing, cancel) // Close cancels loads
	defer stop()

	// Whatever happens, f leaves the map before its waiters are answered:
	// a caller that comes after must not join a load that is over.
	var once sync.Once
	done := func(v V, err error) {
		once.Do(func() {
			a.mu.Lock()
			if a.flights[key] == f {
				delete(a.flights, key)
			}
			a.mu.Unlock()
			f.finish(v, err)
		})
	}
	defer func() {
		if !f.isDone() { // only if something below panicked
			var zero V
			done(zero, errors.New("cache: load ended without a result"))
		}
	}()

	// unanswered: a cache or lock call of this read timed out. Then the
	// answer comes before the store, which would likely time out too. The
	// lock is still tried (one attempt per flight, not per caller): a
	// Redis slowed down by a stampede is when the fleet needs it most.
	unanswered := f.cacheTimedOut

	// Look again: a caller may miss just before another load stores the
	// key and join only after that load is over. Then the value is here.
	if !f.refresh && !f.cacheDown {
		e, ok, err := a.entries.GetEntry(ctx, key)
		switch {
		case err != nil:
			a.cacheFailed(key, err)
			unanswered = unanswered || timedOut(err)
		case ok && e.NotFound:
			done(e.Value, fmt.Errorf("%w: %q (cached)", ErrNotFound, key))
			return
		case ok:
			done(e.Value, nil)
			return
		}
	}

	var token string
	if a.fleet != nil {
		var err error
		if token, err = a.fleet.acquire(ctx, key); err != nil {
			if ctx.Err() != nil { // closing, or out of time
				var zero V
				done(zero, ctx.Err())
				return
			}
			a.cacheFailed(key, err) // load without the lock
			unanswered = unanswered || timedOut(err)
		} else if token == "" {
			w := a.awaitFleet(ctx, key)
			unanswered = unanswered || w.timedOut
			switch {
			case w.found && w.entry.NotFound:
				done(w.entry.Value, fmt.Errorf("%w: %q (cached)", ErrNotFound, key))
				return
			case w.found:
				done(w.entry.Value, nil)
				return
			case w.token == "" && f.refresh && !a.hasJoiners(f):
				// Another process is refreshing: nobody here needs a value.
				var zero V
				done(zero, errRefreshSkipped)
				return
			}
			token = w.token
		}
	}

	start := a.now()
	v, err := a.callLoader(ctx, key)
	loadTime := max(a.now().Sub(start), time.Microsecond)
	a.nLoads.Add(1)

	// Store before answering, so that a caller who has its answer finds
	// the value cached on its next Get; unless Redis stopped answering
	// this read: the write is bounded (Redis: WithTimeout) but likely to
	// time out too. (done answers once: the second call below is a no-op.)
	if unanswered {
		done(v, err)
	}
	f.mu.Lock()
	if !f.stale {
		a.store(key, v, err, loadTime)
	}
	f.mu.Unlock()
	done(v, err)
	if token != "" {
		if err := a.fleet.release(context.WithoutCancel(ctx), key, token); err != nil {
			a.cacheFailed(key, err)
		}
	}
}

var errRefreshSkipped = errors.New("cache: early refresh skipped: another process holds the fleet lock")

func (a *Aside[V]) hasJoiners(f *flight[V]) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return f.joined > 0
}

// timedOut reports whether a cache call failed for want of an answer
// (its bound or a network timeout), rather than with one.
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// callLoader calls the loader, turning a panic into a *PanicError.
func (a *Aside[V]) callLoader(ctx context.Context, key string) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return a.load(ctx, key)
}

// store caches a load's outcome: a value for the TTL, ErrNotFound for the
// negative TTL, anything else not at all.
func (a *Aside[V]) store(key string, v V, err error, loadTime time.Duration) {
	ctx := a.closing
	if a.closed.Load() {
		return
	}
	var setErr error
	switch {
	case err == nil:
		setErr = a.entries.SetEntry(ctx, key, Entry[V]{Value: v, LoadTime: loadTime, TTL: a.jittered(a.ttl)})
	case errors.Is(err, ErrNotFound):
		a.notFound.Add(1)
		if a.negTTL > 0 {
			setErr = a.entries.SetEntry(ctx, key, Entry[V]{NotFound: true, LoadTime: loadTime, TTL: a.jittered(a.negTTL)})
		}
	default:
		a.loadErrors.Add(1)
	}
	if setErr != nil {
		a.cacheFailed(key, setErr)
	}
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
// value), and later callers do not join it. The error is the cache's: the
// keys may still hold stale values, so retry or lower the TTL.
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
	}
	a.mu.Unlock()
	for _, f := range running {
		f.mu.Lock() // waits for a store in progress, which Delete then undoes
		f.stale = true
		f.mu.Unlock()
	}
	if err := a.entries.Delete(ctx, keys...); err != nil {
		a.cacheErrors.Add(1)
		return err
	}
	return nil
}

// Stats returns Hits, Misses, Loads, LoadErrors, NotFound, Shared,
// FleetWaits, Refreshes and CacheErrors.
func (a *Aside[V]) Stats() Stats {
	return Stats{
		Hits: a.hits.Load(), Misses: a.misses.Load(),
		Loads: a.nLoads.Load(), LoadErrors: a.loadErrors.Load(), NotFound: a.notFound.Load(),
		Shared: a.shared.Load(), FleetWaits: a.fleetWaits.Load(), Refreshes: a.refreshes.Load(),
		CacheErrors: a.cacheErrors.Load(),
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

func (a *Aside[V]) cacheFailed(key string, err error) {
	a.cacheErrors.Add(1)
	if a.onError != nil {
		a.onError(key, err)
	}
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
