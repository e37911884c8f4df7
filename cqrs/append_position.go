package cqrs

import (
	"context"
	"fmt"
)

// Appended is where an append left a stream: its version, and the global
// position of the event at that version, which is what a reader waits
// for to see the append (Runner.WaitFor): read-your-writes.
type Appended struct {
	// Version is the stream's version after the append (as Append
	// returns it).
	Version int64
	// Position is the global position of the stream's event at Version:
	// the last event the call appended, or for an exact retry or an
	// append of no events, the stream's last event already there (0 for a
	// stream that does not exist).
	Position int64
}

// PositionAppender is implemented by event stores that return, with an
// append, the global position of what it wrote, in the same round trip.
// MemoryStore and RedisStore implement it, and UpcastingStore when the
// store it wraps does. AppendWithPosition and Repository.ExecuteWithPosition
// use it when the store offers it; it is exported so that a store written
// outside the package, or a wrapper of one, can offer it too.
type PositionAppender interface {
	// AppendWithPosition is EventStore.Append, returning where the
	// append left the stream.
	AppendWithPosition(ctx context.Context, streamID string, expectedVersion int64, events ...Event) (Appended, error)
}

// AppendWithPosition appends events to the stream as store.Append does
// (same semantics, same errors) and returns the stream's version and the
// global position of its event at that version. For a store that is no
// PositionAppender it reads that event back after the append, one more
// round trip (and an error after a successful append then says only that
// the position is unknown: the events were appended).
func AppendWithPosition(ctx context.Context, store EventStore, streamID string, expectedVersion int64, events ...Event) (Appended, error) {
	if pa, ok := store.(PositionAppender); ok {
		return pa.AppendWithPosition(ctx, streamID, expectedVersion, events...)
	}
	v, err := store.Append(ctx, streamID, expectedVersion, events...)
	if err != nil {
		return Appended{Version: v}, err
	}
	return positionOf(ctx, store, streamID, v)
}

// positionOf reads the global position of the stream's event at version v.
func positionOf(ctx context.Context, store EventStore, streamID string, v int64) (Appended, error) {
	if v == 0 {
		return Appended{}, nil
	}
	evs, err := store.Load(ctx, streamID, v)
	if err != nil {
		return Appended{Version: v}, fmt.Errorf("cqrs: appended to %q, but reading its position: %w", streamID, err)
	}
	if len(evs) == 0 || evs[0].Version != v {
		return Appended{Version: v}, fmt.Errorf("cqrs: appended to %q, but its event %d is not there", streamID, v)
	}
	return Appended{Version: v, Position: evs[0].Position}, nil
}
