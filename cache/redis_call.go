package cache

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// bound limits how long one Redis call may take.
type bound struct {
	timeout   time.Duration // 0: only the caller's ctx
	deadlines bool          // the client applies ctx deadlines to socket I/O itself
}

func newBound(c redis.UniversalClient, timeout time.Duration) bound {
	return bound{timeout: timeout, deadlines: honoursDeadlines(c)}
}

// honoursDeadlines reports whether c applies ctx deadlines to socket reads
// and writes. go-redis does so only with ContextTimeoutEnabled (off by
// default); otherwise a frozen server holds a call for the client's whole
// ReadTimeout (3s by default), whatever ctx says.
func honoursDeadlines(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false // unknown client: assume the worst
}

type result[T any] struct {
	v   T
	err error
}

// boundedCall runs fn so that it returns by the bound's timeout or ctx's
// deadline, whichever is sooner, even on a client that ignores ctx
// deadlines: there the call runs in a goroutine, which the client's own
// ReadTimeout ends if the caller gave up on it.
func boundedCall[T any](ctx context.Context, b bound, fn func(context.Context) (T, error)) (T, error) {
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
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	done := make(chan result[T], 1)
	go func() {
		v, err := fn(ctx)
		done <- result[T]{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
