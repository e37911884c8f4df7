package cqrs

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// caller runs Redis calls bounded by a per-call timeout and the caller's
// ctx, even on clients that ignore ctx deadlines for socket I/O.
type caller struct {
	client redis.UniversalClient
	bound  redisx.Bound
}

func newCaller(c redis.UniversalClient, timeout time.Duration) caller {
	return caller{client: c, bound: redisx.NewBound(c, timeout)}
}

// do runs fn within the bound. When it returns early (with ctx's error),
// fn may still be running: whatever fn writes must not be read then.
func (c caller) do(ctx context.Context, fn func(ctx context.Context) error) error {
	return redisx.Run(ctx, c.bound, fn)
}
