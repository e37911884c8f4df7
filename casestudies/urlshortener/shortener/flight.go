package shortener

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
)

// flightShards spreads calls over this many locks.
const flightShards = 64

// flight collapses concurrent calls with one key into one. Creation uses
// it for concurrent creates of one URL, which would otherwise each draw a
// code and race on the dedup stream. (Lookups need none: cache.Tiered
// shares concurrent Redis reads of one key itself.)
type flight[V any] struct {
	seed   maphash.Seed
	shards [flightShards]struct {
		mu    sync.Mutex
		calls map[string]*flightCall[V]
	}
}

type flightCall[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func newFlight[V any]() *flight[V] {
	f := &flight[V]{seed: maphash.MakeSeed()}
	for i := range f.shards {
		f.shards[i].calls = make(map[string]*flightCall[V])
	}
	return f
}

// do runs fn once for all concurrent callers with the same key, on the
// first caller's goroutine and ctx; the others wait for it, or for their own
// ctx to end.
// shared reports whether the caller got another caller's result.
func (f *flight[V]) do(ctx context.Context, key string, fn func(context.Context) (V, error)) (v V, shared bool, err error) {
	sh := &f.shards[maphash.String(f.seed, key)%flightShards]
	sh.mu.Lock()
	c, ok := sh.calls[key]
	if !ok {
		c = &flightCall[V]{done: make(chan struct{})}
		sh.calls[key] = c
		sh.mu.Unlock()
		c.v, c.err = fn(ctx)
		sh.mu.Lock()
		delete(sh.calls, key)
		sh.mu.Unlock()
		close(c.done)
		return c.v, false, c.err
	}
	sh.mu.Unlock()
	select {
	case <-c.done:
		if c.err != nil && ctx.Err() == nil && (errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) {
			v, err = fn(ctx) // the first caller gave up, not the call
			return v, false, err
		}
		return c.v, true, c.err
	case <-ctx.Done():
		return v, false, ctx.Err()
	}
}
