package cqrs

import (
	"context"
	"errors"
)

// StreamAppend is one stream's part of a batch append (AppendBatch): the
// arguments of one Append.
type StreamAppend struct {
	// StreamID is the stream appended to.
	StreamID string
	// ExpectedVersion is Append's expected version: a version (0 =
	// NoStream), AnyVersion or StreamExists.
	ExpectedVersion int64
	// Events are appended to the stream atomically, all or none.
	Events []Event
}

// AppendResult is the outcome of one StreamAppend of a batch.
type AppendResult struct {
	// Appended is where the append left the stream, when Err is nil (as
	// AppendWithPosition returns it, exact retries included).
	Appended
	// Err is this append's own failure, as Append would return it: a
	// *ConflictError, ErrDuplicateEventID or ErrInvalidArgument. It never
	// holds a failure of the call as a whole (see AppendBatch).
	Err error
}

// BatchAppender is implemented by event stores that append to several
// streams in one round trip. MemoryStore, RedisStore and UpcastingStore
// implement it; it is exported so that a store written outside the
// package can offer it too. AppendBatch uses it when the store offers it.
type BatchAppender interface {
	// AppendBatch appends each item of batch as Append would, and
	// returns one result per item, in batch order. See the function
	// AppendBatch for the semantics every implementation keeps.
	AppendBatch(ctx context.Context, batch []StreamAppend) ([]AppendResult, error)
}

// AppendBatch appends each item of batch to its stream and returns one
// result per item, in batch order. It uses store's AppendBatch when store
// is a BatchAppender (one lock, or one Redis round trip per batch), else
// it calls AppendWithPosition once per item, in order.
//
// Each item is atomic by itself and checked independently, by the rules
// of Append (expected version, event ids, idempotent retries): one item
// failing (its AppendResult.Err) does not stop the others. Items that
// write take their global positions in batch order, and an item may name
// a stream an earlier item of the batch appended to: it sees that append.
//
// The error returned is for the call as a whole: ctx done, the store's
// timeout passed, Redis unreachable. The results are then nil, and which
// items landed is unknown — each item landed whole or not at all — so
// retrying the batch is safe when every event carries an id
// (Event.WithID): an item that landed comes back as an exact retry, at
// the version and position it took the first time.
func AppendBatch(ctx context.Context, store EventStore, batch []StreamAppend) ([]AppendResult, error) {
	if ba, ok := store.(BatchAppender); ok {
		return ba.AppendBatch(ctx, batch)
	}
	return appendEach(ctx, store, batch)
}

// appendEach is AppendBatch for a store without a batch append of its own.
func appendEach(ctx context.Context, store EventStore, batch []StreamAppend) ([]AppendResult, error) {
	out := make([]AppendResult, len(batch))
	for i := range batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		it := &batch[i]
		a, err := AppendWithPosition(ctx, store, it.StreamID, it.ExpectedVersion, it.Events...)
		if err != nil && !itemError(err) {
			return nil, err
		}
		out[i] = AppendResult{Appended: a, Err: err}
		if err != nil {
			out[i].Appended = Appended{}
		}
	}
	return out, nil
}

// itemError reports whether err is one append's own refusal, which
// leaves the store as it was and does not concern the other items.
func itemError(err error) bool {
	return errors.Is(err, ErrConflict) || errors.Is(err, ErrDuplicateEventID) || errors.Is(err, ErrInvalidArgument)
}
