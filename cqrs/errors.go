package cqrs

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidConfig wraps every configuration error of a constructor.
	ErrInvalidConfig = errors.New("cqrs: invalid config")
	// ErrInvalidArgument wraps errors for a bad argument to a call: an
	// empty stream id, an event without a type, Data that is not JSON, an
	// expected version below StreamExists, a limit below 1.
	ErrInvalidArgument = errors.New("cqrs: invalid argument")
	// ErrConflict is returned by Append when the stream is not at the
	// expected version; errors.As with *ConflictError gives its actual
	// version. Reload, decide again and retry (Repository does that with
	// WithConflictRetries).
	ErrConflict = errors.New("cqrs: wrong expected version")
	// ErrDuplicateEventID is returned by Append when an event id of the
	// call is already in the stream but the call is not an exact retry of
	// the append that wrote it (see Append's idempotency rule).
	ErrDuplicateEventID = errors.New("cqrs: event id already in stream")
	// ErrNoHandler is returned by CommandBus.Dispatch and Ask for a command
	// or query type that has no handler.
	ErrNoHandler = errors.New("cqrs: no handler")
	// ErrDuplicateHandler is returned when a second handler is registered
	// for a command or query type.
	ErrDuplicateHandler = errors.New("cqrs: handler already registered")
	// ErrCheckpointMoved is returned by a Projection's Apply when its
	// stored checkpoint is not where the caller believed (another runner
	// applied the events, or Rebuild swapped in a new copy). Nothing was
	// applied; a Runner rereads the checkpoint and carries on.
	ErrCheckpointMoved = errors.New("cqrs: projection checkpoint moved")
	// ErrNotRebuildable is returned by Runner.Rebuild for a projection that
	// does not implement Rebuilder.
	ErrNotRebuildable = errors.New("cqrs: projection cannot be rebuilt")
	// ErrUpcast wraps an upcaster's error, and an event whose schema
	// version metadata is not a positive integer.
	ErrUpcast = errors.New("cqrs: upcasting failed")
	// ErrStoreBehind means the event store holds fewer events than a
	// projection has applied: the store lost events (a Redis restarted
	// without persistence, or flushed) while the projection, kept
	// elsewhere, did not. A Runner reports it (WithOnError) and rebuilds a
	// Rebuilder from what the store holds now; any other projection is
	// held where it is, reporting it, until its checkpoint is reset.
	ErrStoreBehind = errors.New("cqrs: event store is behind the projection")
)

// ConflictError is the error of an Append whose expected version did not
// match. It unwraps to ErrConflict.
type ConflictError struct {
	StreamID string
	// Expected is the expected version the caller gave (a version, or
	// NoStream, StreamExists).
	Expected int64
	// Actual is the stream's version when the append was refused.
	Actual int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("cqrs: stream %q: expected version %s, stream is at %d", e.StreamID, versionName(e.Expected), e.Actual)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

func versionName(v int64) string {
	switch v {
	case AnyVersion:
		return "AnyVersion"
	case NoStream:
		return "NoStream (0)"
	case StreamExists:
		return "StreamExists"
	}
	return fmt.Sprint(v)
}
