package cache

import (
	"context"
	"time"
)

// cachePrefix is the prefix of c's names when c is a Redis or Tiered
// cache, else DefaultPrefix: the default prefix of a fleet lock over c,
// so that each cache's locks live beside its entries.
func cachePrefix[V any](c Cache[V]) string {
	switch c := c.(type) {
	case *Redis[V]:
		return c.prefix
	case *Tiered[V]:
		return c.remote.prefix
	}
	return DefaultPrefix
}

// fleetWait is how a wait for another process's fleet lock ended: with the
// entry the holder stored (found), with the lock this process took
// (token), or with neither, when the wait ran out: then the caller loads
// without the lock.
type fleetWait[V any] struct {
	entry    Entry[V]
	found    bool
	token    string
	timedOut bool // a Redis call went unanswered meanwhile
}

// awaitFleet waits for the process holding key's fleet lock to store the
// value, for at most the lock wait in all: the Redis calls it makes are
// bounded by what is left of it, so a Redis that stops answering meanwhile
// cannot stretch the wait.
func (a *Aside[V]) awaitFleet(ctx context.Context, key string) fleetWait[V] {
	a.fleetWaits.Add(1)
	l := a.fleet
	ctx, cancel := context.WithTimeout(ctx, l.wait)
	defer cancel()
	poll := min(max(l.wait/8, 5*time.Millisecond), 100*time.Millisecond)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	var w fleetWait[V]
	// look reads the cache; an error ends the wait (Redis is failing).
	look := func() bool {
		e, ok, err := a.entries.GetEntry(ctx, key)
		if err != nil {
			w.timedOut = timedOut(err)
			a.waitFailed(ctx, EventCacheError, key, err)
			return true
		}
		w.entry, w.found = e, ok
		return ok
	}
	for {
		released := l.watch(key)
		// Look before waiting too: the value may have landed already.
		if look() {
			l.unwatch(key, released)
			return w
		}
		select {
		case <-released:
		case <-ticker.C:
			l.unwatch(key, released)
		case <-ctx.Done(): // the wait is over, or the caller's ctx
			l.unwatch(key, released)
			return w
		}
		if look() {
			return w
		}
		// Released without a value (the holder's load failed), or the lock
		// expired with its holder: try to take it.
		token, err := l.acquire(ctx, key)
		if err != nil {
			w.timedOut = timedOut(err)
			a.waitFailed(ctx, EventLockError, key, err)
			return w
		}
		if token != "" {
			w.token = token
			return w
		}
	}
}

// waitFailed reports a Redis call of awaitFleet that failed, unless the
// wait's own deadline (or the load's ctx) cut it short: that is no news.
func (a *Aside[V]) waitFailed(ctx context.Context, k EventKind, key string, err error) {
	if ctx.Err() == nil {
		a.failed(k, key, err)
	}
}
