package cache

import (
	"context"
	"time"
)

// awaitFleet waits for the process holding key's fleet lock to store the
// value. It returns the entry once the cache has it, or the lock's token
// if the lock came free and this process took it, or neither when the
// wait ran out: then the caller loads without the lock.
func (a *Aside[V]) awaitFleet(ctx context.Context, key string, f *flight[V]) (Entry[V], bool, string) {
	a.fleetWaits.Add(1)
	l := a.fleet
	deadline := time.NewTimer(l.wait)
	defer deadline.Stop()
	poll := min(max(l.wait/8, 5*time.Millisecond), 100*time.Millisecond)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		released := l.watch(key)
		// Look before waiting too: the value may have landed already.
		if e, ok := a.lookup(ctx, key); ok {
			l.unwatch(key, released)
			return e, true, ""
		}
		select {
		case <-released:
		case <-ticker.C:
			l.unwatch(key, released)
		case <-deadline.C:
			l.unwatch(key, released)
			return Entry[V]{}, false, ""
		case <-ctx.Done():
			l.unwatch(key, released)
			return Entry[V]{}, false, ""
		}
		if e, ok := a.lookup(ctx, key); ok {
			return e, true, ""
		}
		// Released without a value (the holder's load failed), or the lock
		// expired with its holder: try to take it.
		token, err := l.acquire(ctx, key)
		if err != nil {
			a.cacheFailed(key, err)
			return Entry[V]{}, false, ""
		}
		if token != "" {
			return Entry[V]{}, false, token
		}
	}
}

// lookup reads key from the cache for awaitFleet.
func (a *Aside[V]) lookup(ctx context.Context, key string) (Entry[V], bool) {
	e, ok, err := a.entries.GetEntry(ctx, key)
	if err != nil {
		a.cacheFailed(key, err)
	}
	return e, ok && err == nil
}
