package ratelimit

import "context"

// Peeker reads a key's quota without spending it. Memory, Redis and the
// wrappers implement it.
type Peeker interface {
	// Peek returns what Allow(ctx, key) would decide now, Allowed and
	// RetryAfter included, without consuming anything, except that
	// Remaining and ResetAfter describe the key as it is, before any
	// request: Remaining is how many units are left now. Delay is 0. A
	// key the limiter does not track reads as a fresh one, and peeking
	// does not make the limiter track it.
	Peek(ctx context.Context, key string) (Decision, error)
}

var (
	_ Peeker = (*Memory)(nil)
	_ Peeker = (*Redis)(nil)
	_ Peeker = (*wrapper)(nil)
)
