package cache

import (
	"context"

	sharedflight "github.com/sysdesign/patterns/internal/flight"
)

// remoteReads collapses a Tiered's concurrent Redis reads of one key into
// one (internal/flight): the read runs on a goroutine of its own, under a
// context that keeps the first reader's values but not its cancellation,
// so any reader may leave when its ctx ends while the others keep
// waiting; the read is cancelled when the last reader leaves, or by
// Close. The zero value is ready to use.
type remoteReads[V any] struct {
	group sharedflight.Group[readKey, remoteRead[V]]
}

// readKey is what a reader may share a read by: the key, and its stripe's
// epoch when the read began, so that a read begun before an invalidation
// or write of the key this process knows of is not joined after it (a
// new read replaces it for later readers).
type readKey struct {
	key   string
	epoch uint64
}

// remoteRead is what a Redis read of a key found.
type remoteRead[V any] struct {
	e  Entry[V]
	ok bool
}

// do returns key's entry as t.readRemote reads it, joining a read of key
// in flight that began after the last invalidation or write of key this
// process knows of, or else starting one. shared reports that the caller
// joined another's read. When ctx ends first, do returns ctx's error.
// After close, do reads directly.
func (rs *remoteReads[V]) do(ctx context.Context, t *Tiered[V], key string) (e Entry[V], ok, shared bool, err error) {
	stripe := t.stripe(key)
	epoch := stripe.Load()
	r, shared, err := rs.group.Do(ctx, readKey{key, epoch}, func(ctx context.Context) (remoteRead[V], error) {
		e, ok, err := t.readRemote(ctx, key, stripe, epoch)
		return remoteRead[V]{e, ok}, err
	})
	return r.e, r.ok, shared, err
}

// close cancels every read in flight, makes later reads direct, and waits
// for the read goroutines to end.
func (rs *remoteReads[V]) close() { rs.group.Close() }
