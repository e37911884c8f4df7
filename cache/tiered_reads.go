package cache

import (
	"context"
	"hash/maphash"
	"sync"
)

// readShards spreads the reads in flight over this many locks.
const readShards = 16

// remoteReads collapses a Tiered's concurrent Redis reads of one key into
// one. The read runs on a goroutine of its own, under a context that keeps
// the first reader's values but not its cancellation, so any reader may
// leave when its ctx ends while the others keep waiting; the read is
// cancelled when the last reader leaves, or by Close. The zero value is
// ready to use.
type remoteReads[V any] struct {
	seed   maphash.Seed
	once   sync.Once
	shards [readShards]struct {
		mu     sync.Mutex
		reads  map[string]*remoteRead[V]
		closed bool
	}
	wg sync.WaitGroup // read goroutines
}

// remoteRead is one Redis read of a key, and who waits for it.
type remoteRead[V any] struct {
	epoch   uint64 // the key's stripe epoch when the read began
	waiters int    // readers still waiting (under the shard's lock)
	cancel  context.CancelFunc
	done    chan struct{} // closed once e, ok and err are set
	e       Entry[V]
	ok      bool
	err     error
}

// do returns key's entry as t.readRemote reads it, joining a read of key
// in flight that began after the last invalidation or write of key this
// process knows of, or else starting one. shared reports that the caller
// joined another's read. When ctx ends first, do returns ctx's error.
func (rs *remoteReads[V]) do(ctx context.Context, t *Tiered[V], key string) (e Entry[V], ok, shared bool, err error) {
	rs.once.Do(func() { rs.seed = maphash.MakeSeed() })
	stripe := t.stripe(key)
	epoch := stripe.Load()
	sh := &rs.shards[maphash.String(rs.seed, key)%readShards]
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		// Closed: read directly, as nothing is kept locally any more.
		e, ok, err = t.readRemote(ctx, key, stripe, epoch)
		return e, ok, false, err
	}
	r := sh.reads[key]
	if r != nil && r.epoch == epoch {
		r.waiters++
		shared = true
	} else {
		// None, or one that may have read what was invalidated since: a
		// new read replaces it for later readers.
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r = &remoteRead[V]{epoch: epoch, waiters: 1, cancel: cancel, done: make(chan struct{})}
		if sh.reads == nil {
			sh.reads = make(map[string]*remoteRead[V])
		}
		sh.reads[key] = r
		rs.wg.Add(1)
		go func() {
			defer rs.wg.Done()
			defer cancel()
			r.e, r.ok, r.err = t.readRemote(rctx, key, stripe, epoch)
			sh.mu.Lock()
			if sh.reads[key] == r {
				delete(sh.reads, key)
			}
			sh.mu.Unlock()
			close(r.done)
		}()
	}
	sh.mu.Unlock()

	select {
	case <-r.done:
		return r.e, r.ok, shared, r.err
	case <-ctx.Done():
	}
	sh.mu.Lock()
	r.waiters--
	if r.waiters == 0 {
		// Nobody is left to want it: stop the read, and let no one join it.
		r.cancel()
		if sh.reads[key] == r {
			delete(sh.reads, key)
		}
	}
	sh.mu.Unlock()
	return e, false, shared, ctx.Err()
}

// close cancels every read in flight, makes later reads direct, and waits
// for the read goroutines to end.
func (rs *remoteReads[V]) close() {
	for i := range rs.shards {
		sh := &rs.shards[i]
		sh.mu.Lock()
		sh.closed = true
		for _, r := range sh.reads {
			r.cancel()
		}
		sh.mu.Unlock()
	}
	rs.wg.Wait()
}
