package cqrs

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// caller makes the Redis calls of one Redis-backed type, each bounded by
// the type's timeout (WithTimeout) or the caller's ctx deadline, whichever
// is sooner, on every client: with or without ContextTimeoutEnabled.
type caller struct {
	client redis.UniversalClient
	bound  redisx.Bound
}

// newCaller bounds calls on c by o's timeout and pipelines them unless o
// opts out (WithoutPipelining).
func newCaller(c redis.UniversalClient, o options) caller {
	b := redisx.NewBound(c, o.timeout)
	if o.unpipelined {
		b = b.WithoutPipelining()
	}
	return caller{client: c, bound: b}
}

// eval runs script within the bound (EVALSHA, then EVAL after a SCRIPT
// FLUSH). keys and args must not be changed afterwards: a call given up on
// may still read them.
func (c caller) eval(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	return c.bound.Eval(ctx, c.client, script, keys, args, nil)
}

// do runs fn, a call that is no script, within the bound. When it returns
// early (with ctx's error), fn may still be running: whatever fn writes
// must not be read then.
func (c caller) do(ctx context.Context, fn func(ctx context.Context) error) error {
	return redisx.Run(ctx, c.bound, fn)
}
