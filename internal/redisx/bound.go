package redisx

import (
	"context"
	"errors"
	"net"
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

// Bound is a per-call time limit for one client, and that client's
// coalescer. The zero Bound has no timeout of its own, pipelines nothing,
// and still honours ctx's deadline on every client.
type Bound struct {
	timeout   time.Duration // 0: only the caller's ctx
	deadlines bool
	pipe      *coalescer            // nil: every call on its own
	client    redis.UniversalClient // the client pipe pipelines on
}

// NewBound limits calls on c to timeout (0: only the caller's ctx). The
// bound pipelines concurrent Evals on c (a *redis.Client or
// *redis.ClusterClient; other clients are called plainly), sharing one
// coalescer with every other bound on c; WithoutPipelining turns that off.
func NewBound(c redis.UniversalClient, timeout time.Duration) Bound {
	b := Bound{timeout: timeout, deadlines: HonoursDeadlines(c)}
	if p := coalescerFor(c); p != nil {
		b.pipe, b.client = p, c
	}
	return b
}

// Timeout is the bound's own limit (0: none).
func (b Bound) Timeout() time.Duration { return b.timeout }

// limit returns how long a call started now may take beyond ctx's own
// deadline: b.timeout when that is sooner than ctx's deadline, else 0.
func (b Bound) limit(ctx context.Context) time.Duration {
	if b.timeout <= 0 {
		return 0
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= b.timeout {
		return 0
	}
	return b.timeout
}

// Do runs fn and returns by the bound's timeout or ctx's deadline,
// whichever is sooner, with context.DeadlineExceeded (or ctx's error) when
// it gave up. fn may then still be running: whatever it writes must not be
// read by the caller. fn's closure is the one allocation Do adds; the hot
// paths use Eval.
func Do[T any](ctx context.Context, b Bound, fn func(context.Context) (T, error)) (T, error) {
	var v T
	err := b.run(ctx, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Run is Do for a call with no result.
func Run(ctx context.Context, b Bound, fn func(context.Context) error) error {
	return b.run(ctx, fn)
}

func (b Bound) run(ctx context.Context, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	limit := b.limit(ctx)
	if b.deadlines || (limit == 0 && ctx.Done() == nil) {
		if limit > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, limit)
			defer cancel()
		}
		return settle(ctx, fn(ctx))
	}
	c := getCall()
	c.ctx, c.fn = ctx, fn
	if err := c.await(ctx, limit); err != nil {
		return err
	}
	err := c.err
	c.recycle()
	return err
}

// settle reports a call that failed because its ctx ran out as ctx's error:
// go-redis reports the socket deadline it derived from ctx as an i/o
// timeout, and callers test for context.DeadlineExceeded on every client.
func settle(ctx context.Context, err error) error {
	dl, _ := ctx.Deadline()
	return settleBy(ctx, dl, err)
}

// settleBy is settle for a call whose caller stops waiting at deadline
// (zero: ctx's deadline alone), which a pipeline's socket deadline can
// reach a moment before the caller's own timer does.
func settleBy(ctx context.Context, deadline time.Time, err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	// The socket deadline can fire a moment before ctx's timer does.
	if dl, ok := ctx.Deadline(); ok && (deadline.IsZero() || dl.Before(deadline)) {
		deadline = dl
	}
	if !deadline.IsZero() && time.Until(deadline) < 5*time.Millisecond {
		return context.DeadlineExceeded
	}
	return err
}
