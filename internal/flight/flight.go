// Package flight collapses concurrent calls with one key into one run, for
// the places that share a read or a create between callers (cache.Tiered's
// Redis reads, the URL shortener's creates).
//
// Unlike golang.org/x/sync/singleflight, the shared run belongs to no
// caller: it runs on a goroutine of its own, under a context that keeps
// the first caller's values but not its cancellation. So a caller whose
// ctx ends leaves at once without cancelling the run for the others, and
// the run is cancelled only when every caller waiting for it has left (or
// by Close). A panic in the function becomes a *PanicError for every
// caller instead of crashing the process from a goroutine nobody owns.
package flight

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Group runs one call per key at a time for all the callers that ask for
// the key while it runs. The zero value is ready to use; a Group must not
// be copied after first use.
//
// A Group holds only the calls in flight: each leaves the Group when it
// ends, or when its last caller leaves, so its memory is bounded by the
// callers waiting.
type Group[K comparable, V any] struct {
	mu     sync.Mutex
	calls  map[K]*call[V]
	closed bool
	runs   sync.WaitGroup // the call goroutines
}

// call is one run of a key's function, and who waits for it.
type call[V any] struct {
	done    chan struct{} // closed once val and err are set
	val     V
	err     error
	waiters int // callers still waiting, under the Group's lock
	cancel  context.CancelFunc
}

// PanicError is what every caller of a call whose function panicked gets.
type PanicError struct {
	Value any    // what the function panicked with
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("flight: the shared call panicked: %v\n%s", e.Value, e.Stack)
}

// Do returns fn's result for key. If a call of key is in flight, Do waits
// for it (shared reports that); else it starts one: fn runs on a goroutine
// of its own under a ctx carrying ctx's values but not its cancellation.
//
// When ctx ends before the result, Do returns ctx's error at once; the
// call goes on for the other callers, and its ctx is cancelled once no
// caller waits for it any more (a later caller of key then starts a new
// call rather than join one that is being cancelled).
//
// After Close, Do runs fn on the caller's goroutine, under ctx, unshared.
// A panic in fn is recovered and returned as a *PanicError.
func (g *Group[K, V]) Do(ctx context.Context, key K, fn func(context.Context) (V, error)) (v V, shared bool, err error) {
	if err := ctx.Err(); err != nil {
		return v, false, err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		v, err = protect(ctx, fn)
		return v, false, err
	}
	c := g.calls[key]
	if c != nil {
		c.waiters++
		shared = true
	} else {
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[V]{done: make(chan struct{}), waiters: 1, cancel: cancel}
		if g.calls == nil {
			g.calls = make(map[K]*call[V])
		}
		g.calls[key] = c
		g.runs.Add(1)
		go g.run(cctx, key, c, fn)
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		return c.val, shared, c.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	select {
	case <-c.done: // it ended meanwhile: the result is here, take it
		g.mu.Unlock()
		return c.val, shared, c.err
	default:
	}
	if c.waiters--; c.waiters == 0 {
		// Nobody is left to want it: stop it, and let no one join it.
		c.cancel()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
	}
	g.mu.Unlock()
	return v, shared, ctx.Err()
}

// run runs fn for c's callers and hands them its result.
func (g *Group[K, V]) run(ctx context.Context, key K, c *call[V], fn func(context.Context) (V, error)) {
	defer g.runs.Done()
	defer c.cancel()
	val, err := protect(ctx, fn)
	g.mu.Lock()
	c.val, c.err = val, err
	if g.calls[key] == c {
		delete(g.calls, key)
	}
	close(c.done)
	g.mu.Unlock()
}

// protect calls fn, turning a panic into a *PanicError.
func protect[V any](ctx context.Context, fn func(context.Context) (V, error)) (v V, err error) {
	defer func() {
		if r := recover(); r != nil {
			var zero V
			v, err = zero, &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return fn(ctx)
}

// Close cancels the ctx of every call in flight, waits for their
// goroutines to end (their callers get what the calls return), and makes
// later Do calls run unshared on their callers' goroutines. It is safe to
// call more than once, and concurrently with Do.
func (g *Group[K, V]) Close() {
	g.mu.Lock()
	g.closed = true
	for _, c := range g.calls {
		c.cancel()
	}
	g.mu.Unlock()
	g.runs.Wait()
}

// Waiters reports how many callers wait for key's call in flight (0: none
// is), for tests and stats.
func (g *Group[K, V]) Waiters(key K) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.calls[key]; c != nil {
		return c.waiters
	}
	return 0
}

// InFlight reports how many calls are in flight, for tests and stats.
func (g *Group[K, V]) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}
