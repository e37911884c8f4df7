package cqrs

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// caller runs Redis calls bounded by a per-call timeout and the caller's
// ctx, even on clients that ignore ctx deadlines for socket I/O.
type caller struct {
	client    redis.UniversalClient
	timeout   time.Duration
	deadlines bool // the client applies ctx deadlines to I/O by itself
}

func newCaller(c redis.UniversalClient, timeout time.Duration) caller {
	return caller{client: c, timeout: timeout, deadlines: honoursDeadlines(c)}
}

// honoursDeadlines reports whether c applies ctx deadlines to socket reads
// and writes. go-redis does so only with ContextTimeoutEnabled (off by
// default); otherwise a frozen server holds a call for the client's whole
// ReadTimeout, whatever ctx says.
func honoursDeadlines(c redis.UniversalClient) bool {
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

// do runs fn with ctx bounded by the timeout. When the client ignores
// deadlines, fn runs in a goroutine and do returns when ctx ends; fn's
// results must then not be read (do returned an error).
func (c caller) do(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > c.timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if c.deadlines {
		return fn(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
