package cqrs

import "context"

// EventStore is an append-only log of events, kept per stream (one
// aggregate) and in one global order across streams.
//
// A stream's first event has Version 1; a stream that does not exist is at
// version 0. The global Position starts at 1 and has no gaps: an append
// takes its positions in the same atomic step as its versions, so a reader
// of the global order never sees position n+1 before position n.
type EventStore interface {
	// Append appends events to the stream atomically (all or none) if the
	// stream is at expectedVersion — a version (0 = NoStream: no events
	// yet), AnyVersion or StreamExists — and returns the stream's new
	// version. Otherwise it appends nothing and returns a *ConflictError
	// (errors.Is(err, ErrConflict)) with the stream's actual version.
	// Appending no events checks the expected version and returns the
	// current one.
	//
	// Idempotency: events may carry ids (WithID). When every event of the
	// call has an id and those ids are already in the stream, as
	// consecutive events in the same order, and expectedVersion allows the
	// first of them there (AnyVersion, StreamExists, or the version before
	// it), the call is a retry of the append that wrote them: Append
	// writes nothing and returns the version of the last of them. An id
	// already in the stream in any other case is ErrDuplicateEventID
	// (after the version check: a stale expectedVersion is ErrConflict).
	Append(ctx context.Context, streamID string, expectedVersion int64, events ...Event) (int64, error)
	// Load returns the stream's events with Version ≥ fromVersion, in
	// order (none for a stream that does not exist).
	Load(ctx context.Context, streamID string, fromVersion int64) ([]Event, error)
	// ReadAll returns the events with Position ≥ fromPosition in global
	// order, at most limit (≥ 1) of them.
	ReadAll(ctx context.Context, fromPosition int64, limit int) ([]Event, error)
}

// Waiter is implemented by event stores that can tell a reader when new
// events arrive, so that a Runner follows the log without polling it.
// MemoryStore and RedisStore implement it. Users do not call it (the
// Runner does); it is exported so that an EventStore written outside the
// package (a Postgres store with LISTEN/NOTIFY) or a wrapper of one can
// offer it too, and be followed without polling.
type Waiter interface {
	// Wait returns when the log may hold an event after position after: at
	// once if it does, else when one is appended or after a store-defined
	// interval (a spurious wake-up is allowed; the caller reads and waits
	// again). It returns ctx's error when ctx is done first.
	Wait(ctx context.Context, after int64) error
}

// Header is implemented by event stores that can tell the last position
// of their log. MemoryStore and RedisStore implement it. Exported so that
// a store written outside the package can implement it: the Runner's
// CatchUp, Lag and Rebuild, and its detection of a store that lost
// events, rely on it.
type Header interface {
	// Head returns the position of the last event in the log (0: empty).
	Head(ctx context.Context) (int64, error)
}

// versionOK reports whether a stream at version cur may be appended to
// with expectedVersion exp.
func versionOK(exp, cur int64) bool {
	switch exp {
	case AnyVersion:
		return true
	case StreamExists:
		return cur > 0
	}
	return exp == cur
}

// retryOK reports whether a retry of an append whose first event landed
// at version first is consistent with exp.
func retryOK(exp, first int64) bool {
	return exp == AnyVersion || exp == StreamExists || exp == first-1
}
