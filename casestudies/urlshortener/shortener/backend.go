package shortener

import (
	"context"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/ratelimit"
)

// backend is what differs between one process in memory and a fleet on
// Redis; everything above it is the same code.
type backend struct {
	store cqrs.EventStore
	// table is the link table projection; get reads it.
	table cqrs.Projection
	get   func(ctx context.Context, code string) (Link, bool, error)
	// links is the cache that resolution reads through (Aside on top).
	links cache.Cache[Link]
	// counter hands out counter values for codes: 1, 2, 3, …
	counter func(ctx context.Context) (uint64, error)
	visits  visitCounter
	// codeKey returns the key of the code bijection: the configured one,
	// else one this backend keeps (random per process in memory, shared
	// through Redis).
	codeKey func(ctx context.Context, configured []byte) ([]byte, error)
	limiter func(name string, l ratelimit.Limit) (ratelimit.Limiter, error)
	ping    func(ctx context.Context) error
	close   func() error
}

// visitCounter takes visits of links with a visit limit, atomically. Links
// are named by visitID.
type visitCounter interface {
	// take counts one visit unless max were already counted; it returns
	// whether the visit is allowed and the count after it.
	take(ctx context.Context, id string, max int64) (ok bool, used int64, err error)
	// drop forgets a link's count (when the link is deleted).
	drop(ctx context.Context, id string) error
}
