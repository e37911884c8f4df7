// Package rediscall bounds how long a Redis call may take, for the
// packages' WithTimeout options.
//
// go-redis applies a ctx deadline to socket reads and writes only when the
// client was built with ContextTimeoutEnabled (off by default); otherwise a
// frozen server holds a call for the client's whole ReadTimeout (3s by
// default), whatever ctx says. Bound honours the deadline either way: on
// such a client the call runs in a goroutine and the caller stops waiting
// at the deadline, while the abandoned call ends at the client's
// ReadTimeout.
package rediscall

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// HonoursDeadlines reports whether c applies ctx deadlines to socket I/O
// by itself. An unknown client type is assumed not to.
func HonoursDeadlines(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// Bound is a per-call time limit for one client.
type Bound struct {
	timeout   time.Duration // 0: only the caller's ctx
	deadlines bool
}

// NewBound limits calls on c to timeout (0: only the caller's ctx).
func NewBound(c redis.UniversalClient, timeout time.Duration) Bound {
	return Bound{timeout: timeout, deadlines: HonoursDeadlines(c)}
}

// Do runs fn and returns by the bound's timeout or ctx's deadline,
// whichever is sooner. When it returns early, fn may still be running: its
// results and anything it writes must not be used then (Do returned ctx's
// error).
func Do[T any](ctx context.Context, b Bound, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if b.timeout > 0 {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > b.timeout {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, b.timeout)
			defer cancel()
		}
	}
	if b.deadlines || ctx.Done() == nil {
		return fn(ctx)
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// Run is Do for a call with no result.
func Run(ctx context.Context, b Bound, fn func(context.Context) error) error {
	_, err := Do(ctx, b, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}
