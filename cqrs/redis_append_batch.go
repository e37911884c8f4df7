package cqrs

import (
	"context"
	"fmt"
)

// AppendBatch implements BatchAppender: the whole batch is one script
// call, one round trip, since every key of the store shares one hash
// slot. The script checks and writes the items in batch order, each
// atomically; no other append interleaves with the batch. Invalid items
// (ErrInvalidArgument) are refused before the call and do not go to Redis.
//
// A batch whose call fails (the error returned: timeout, ctx, Redis down)
// has an unknown outcome, item by item, as a timed-out Append has: retry
// it with the same event ids. Each item is all or nothing either way.
func (s *RedisStore) AppendBatch(ctx context.Context, batch []StreamAppend) ([]AppendResult, error) {
	out := make([]AppendResult, len(batch))
	valid := make([]StreamAppend, 0, len(batch))
	idx := make([]int, 0, len(batch))
	for i := range batch {
		it := &batch[i]
		if out[i].Err = checkAppend(it.StreamID, it.ExpectedVersion, it.Events); out[i].Err == nil {
			valid = append(valid, *it)
			idx = append(idx, i)
		}
	}
	res := make([]AppendResult, len(valid))
	if len(valid) > 0 {
		if err := s.appendItems(ctx, valid, res); err != nil {
			for range batch {
				s.stats.count(0, err)
			}
			return nil, fmt.Errorf("cqrs: redis store: append batch of %d: %w", len(batch), err)
		}
	}
	for j, i := range idx {
		out[i] = res[j]
	}
	for i := range out {
		s.stats.count(len(batch[i].Events), out[i].Err)
	}
	return out, nil
}

// encodedAppend is one checked append, encoded for the script: made on
// the caller's goroutine, so that a call sent later (a coalesced batch)
// never reads the caller's events, and so that a batch's sender, whose
// work every caller in the batch waits for, has little left to do.
type encodedAppend struct {
	streamID string
	expected int64
	n        int    // events
	keys     string // its stream's key, then its ids' key (one allocation)
	cut      int    // where the ids' key begins
	args     []any  // the script's: expected, n, then per event its id ('' for none) and body
}

func encodeAppend(base string, it *StreamAppend) encodedAppend {
	args := make([]any, 0, 2+2*len(it.Events))
	args = append(args, it.ExpectedVersion, len(it.Events))
	for j := range it.Events {
		args = append(args, it.Events[j].ID(), encodeBody(it.StreamID, &it.Events[j]))
	}
	keys := base + "s:" + it.StreamID + base + "id:" + it.StreamID
	return encodedAppend{streamID: it.StreamID, expected: it.ExpectedVersion, n: len(it.Events),
		keys: keys, cut: len(base) + len("s:") + len(it.StreamID), args: args}
}

// appendItems encodes items (checked already), runs the append script for
// them and fills res, one result per item; the error is the call's.
func (s *RedisStore) appendItems(ctx context.Context, items []StreamAppend, res []AppendResult) error {
	enc := make([]encodedAppend, len(items))
	for i := range items {
		enc[i] = encodeAppend(s.base, &items[i])
	}
	return s.appendEncoded(ctx, enc, res)
}

// appendEncoded runs the append script for items and fills res, one
// result per item; the error is the call's.
func (s *RedisStore) appendEncoded(ctx context.Context, items []encodedAppend, res []AppendResult) error {
	keys := make([]string, 0, 3+2*len(items))
	keys = append(keys, s.fixed[:]...)
	nargs := 1
	for i := range items {
		keys = append(keys, items[i].keys[:items[i].cut], items[i].keys[items[i].cut:])
		nargs += len(items[i].args)
	}
	args := make([]any, 0, nargs)
	args = append(args, len(items))
	for i := range items {
		args = append(args, items[i].args...)
	}
	reply, err := s.call.eval(ctx, appendScript, keys, args...).Slice()
	if err != nil {
		return err
	}
	if len(reply) != 3*len(items) {
		return errBadReply
	}
	for i := range items {
		res[i] = appendResult(items[i].streamID, items[i].expected, reply[3*i:3*i+3])
	}
	return nil
}

// appendResult reads one item's three reply values (see lua/append.lua).
func appendResult(streamID string, expected int64, r []any) AppendResult {
	code, ok1 := r[0].(int64)
	v, ok2 := r[1].(int64)
	if !ok1 || !ok2 {
		return AppendResult{Err: errBadReply}
	}
	switch code {
	case 0, 1:
		pos, _ := r[2].(int64)
		return AppendResult{Appended: Appended{Version: v, Position: pos}}
	case 2:
		return AppendResult{Err: &ConflictError{StreamID: streamID, Expected: expected, Actual: v}}
	case 3:
		id, _ := r[2].(string)
		return AppendResult{Err: fmt.Errorf("%w: %q in stream %q", ErrDuplicateEventID, id, streamID)}
	}
	return AppendResult{Err: errBadReply}
}
