package shortener

import (
	"context"

	sharedflight "github.com/sysdesign/patterns/internal/flight"
)

// flight collapses concurrent calls with one key into one. Creation uses
// it for concurrent creates of one URL, which would otherwise each draw a
// code and race on the dedup stream. (Lookups need none: cache.Tiered
// shares concurrent Redis reads of one key itself.) The mechanism is
// internal/flight's, shared with the cache package.
type flight[V any] struct {
	group sharedflight.Group[string, V]
}

func newFlight[V any]() *flight[V] { return &flight[V]{} }

// do runs fn once for all concurrent callers with the same key, on a
// goroutine of its own under a ctx with the first caller's values; each
// caller waits for it or for its own ctx to end, and one leaving does not
// cancel it for the others (it is cancelled once all have left). A panic
// in fn is an error for every caller. shared reports whether the caller
// got another caller's result.
func (f *flight[V]) do(ctx context.Context, key string, fn func(context.Context) (V, error)) (v V, shared bool, err error) {
	return f.group.Do(ctx, key, fn)
}
