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

// appendItems runs the append script for items (checked already) and
// fills res, one result per item; the error is the call's.
func (s *RedisStore) appendItems(ctx context.Context, items []StreamAppend, res []AppendResult) error {
	keys := make([]string, 3, 3+2*len(items))
	keys[0], keys[1], keys[2] = s.seqKey(), s.evKey(), s.tailKey()
	nargs := 1
	for i := range items {
		keys = append(keys, s.base+"s:"+items[i].StreamID, s.base+"id:"+items[i].StreamID)
		nargs += 2 + 2*len(items[i].Events)
	}
	args := make([]any, 0, nargs)
	args = append(args, len(items))
	for i := range items {
		it := &items[i]
		args = append(args, it.ExpectedVersion, len(it.Events))
		for j := range it.Events {
			args = append(args, it.Events[j].ID(), encodeBody(it.StreamID, &it.Events[j]))
		}
	}
	reply, err := s.call.eval(ctx, appendScript, keys, args...).Slice()
	if err != nil {
		return err
	}
	if len(reply) != 3*len(items) {
		return errBadReply
	}
	for i := range items {
		res[i] = appendResult(items[i].StreamID, items[i].ExpectedVersion, reply[3*i:3*i+3])
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
