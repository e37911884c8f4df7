package cache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// loadRun is one run of a flight's load, in the steps run takes: look in
// the cache again, take (or wait for) the fleet lock, call the loader,
// store and answer, release the lock.
type loadRun[V any] struct {
	a    *Aside[V]
	key  string
	f    *flight[V]
	once sync.Once

	// unanswered: a cache or lock call of this read timed out. Then the
	// answer comes before the store, which would likely time out too. The
	// lock is still tried (one attempt per flight, not per caller): a
	// Redis slowed down by a stampede is when the fleet needs it most.
	unanswered bool
	token      string // the fleet lock's token while this run holds it
	fence      fence  // read before the loader: the store's condition
}

// run loads key for f's waiters, then stores the result and ends f. ctx
// carries the first caller's values, but not its cancellation.
func (a *Aside[V]) run(ctx context.Context, key string, f *flight[V]) {
	defer a.loads.Done()
	ctx, cancel := context.WithTimeout(ctx, a.loadTimeout)
	defer cancel()
	stop := context.AfterFunc(a.closing, cancel) // Close cancels loads
	defer stop()

	r := &loadRun[V]{a: a, key: key, f: f, unanswered: f.cacheTimedOut}
	defer r.answerIfPanicked()
	if r.lookAgain(ctx) || r.lockFleet(ctx) {
		return
	}
	start := a.now()
	v, err := a.callLoader(ctx, key)
	took := max(a.now().Sub(start), time.Microsecond)
	a.countLoad(key, err, took)
	r.storeAndAnswer(v, err, took)
	r.unlockFleet(ctx)
}

// answer hands the result to f's waiters, once. f leaves the map first: a
// caller that comes after must not join a load that is over.
func (r *loadRun[V]) answer(v V, err error) {
	r.once.Do(func() {
		r.a.mu.Lock()
		if r.a.flights[r.key] == r.f {
			delete(r.a.flights, r.key)
		}
		r.a.flightEnded(r.key)
		r.a.mu.Unlock()
		r.f.finish(v, err)
	})
}

// answerEntry answers with a cached entry, negative or not.
func (r *loadRun[V]) answerEntry(e Entry[V]) {
	if e.NotFound {
		r.answer(e.Value, fmt.Errorf("%w: %q (cached)", ErrNotFound, r.key))
		return
	}
	r.answer(e.Value, nil)
}

// answerIfPanicked answers f's waiters should a step panic (the panic
// goes on): they must not wait forever.
func (r *loadRun[V]) answerIfPanicked() {
	if !r.f.isDone() {
		var zero V
		r.answer(zero, errors.New("cache: load ended without a result"))
	}
}

// lookAgain reads the cache once more and answers from it if it holds
// the key: a caller may miss just before another load stores the key and
// join only after that load is over. Not for refreshes (the value is
// there, and old) nor when the caller's read failed.
func (r *loadRun[V]) lookAgain(ctx context.Context) (answered bool) {
	if r.a.fenced != nil {
		return r.readFence(ctx)
	}
	if r.f.refresh || r.f.cacheDown {
		return false
	}
	e, ok, err := r.a.entries.GetEntry(ctx, r.key)
	if err != nil {
		r.a.failed(EventCacheError, r.key, err)
		r.unanswered = r.unanswered || timedOut(err)
		return false
	}
	if ok {
		r.answerEntry(e)
	}
	return ok
}

// readFence is lookAgain on a fencing cache: it reads the fence the
// store will need (one round trip, as lookAgain's read) and answers from
// the cache if it holds the key, unless this is a refresh. A load whose
// caller's miss carried the fence takes it instead, without a round trip
// (see aside_missfence.go). A load whose caller's cache read timed out
// does not try (Redis is not answering); without a fence, its store goes
// only where the key holds nothing, not even an invalidation's tombstone.
func (r *loadRun[V]) readFence(ctx context.Context) (answered bool) {
	if r.f.fence.valid {
		r.fence = r.f.fence
		return false
	}
	if r.f.cacheTimedOut {
		return false
	}
	e, ok, fc, err := r.a.fenced.readFence(ctx, r.key)
	if err != nil {
		r.a.failed(EventCacheError, r.key, err)
		r.unanswered = r.unanswered || timedOut(err)
		return false
	}
	r.fence = fc
	if ok && !r.f.refresh {
		r.answerEntry(e)
		return true
	}
	return false
}

// lockFleet takes the fleet lock, if there is one, or else waits for the
// process holding it and answers with what it stored. When the lock
// cannot be had the load goes on without it.
func (r *loadRun[V]) lockFleet(ctx context.Context) (answered bool) {
	a := r.a
	if a.fleet == nil {
		return false
	}
	token, err := a.fleet.acquire(ctx, r.key)
	switch {
	case err != nil && ctx.Err() != nil: // closing, or out of time
		var zero V
		r.answer(zero, ctx.Err())
		return true
	case err != nil: // load without the lock
		a.failed(EventLockError, r.key, err)
		r.unanswered = r.unanswered || timedOut(err)
		return false
	case token != "":
		r.token = token
		return false
	}
	began := time.Now()
	w := a.awaitFleet(ctx, r.key)
	a.hooks.emit(Event{Kind: EventFleetWait, Key: r.key, Duration: time.Since(began)})
	r.unanswered = r.unanswered || w.timedOut
	switch {
	case w.found:
		r.answerEntry(w.entry)
		return true
	case w.token == "" && r.f.refresh && !a.hasJoiners(r.f):
		// Another process is refreshing: nobody here needs a value.
		var zero V
		r.answer(zero, errRefreshSkipped)
		return true
	}
	r.token = w.token
	return false
}

// storeAndAnswer stores the loader's outcome unless Invalidate made it
// stale, and answers. It stores before answering, so that a caller who
// has its answer finds the value cached on its next Get; unless Redis
// stopped answering this read: the write is bounded (Redis: WithTimeout)
// but likely to time out too.
func (r *loadRun[V]) storeAndAnswer(v V, err error, took time.Duration) {
	if r.unanswered {
		r.answer(v, err)
	}
	r.f.mu.Lock()
	var setErr error
	if r.f.stale {
		if r.a.storable(err) {
			r.a.fencedOff.Add(1)
		}
	} else {
		setErr = r.a.store(r.key, v, err, took, r.fence)
	}
	r.f.mu.Unlock()
	if setErr != nil {
		r.a.failed(EventCacheError, r.key, setErr)
	}
	r.answer(v, err) // a no-op if answered above
}

// unlockFleet releases the fleet lock if this run holds it. A failure
// leaves the lock to expire after the load timeout.
func (r *loadRun[V]) unlockFleet(ctx context.Context) {
	if r.token == "" {
		return
	}
	if err := r.a.fleet.release(context.WithoutCancel(ctx), r.key, r.token); err != nil {
		r.a.failed(EventLockError, r.key, err)
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
		if rec := recover(); rec != nil {
			err = &PanicError{Value: rec, Stack: debug.Stack()}
		}
	}()
	return a.load(ctx, key)
}
