package cqrstest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// appendBatch runs cqrs.AppendBatch, which uses the store's own batch
// append when it has one.
func appendBatch(t *testing.T, s cqrs.EventStore, batch ...cqrs.StreamAppend) []cqrs.AppendResult {
	t.Helper()
	res, err := cqrs.AppendBatch(context.Background(), s, batch)
	require.NoError(t, err, "append batch")
	require.Len(t, res, len(batch), "one result per item")
	return res
}

// batchItems: each item is checked on its own (a conflict, a duplicate id
// and an invalid item do not stop the others), items take positions in
// batch order, a later item sees an earlier one's append to the same
// stream, and exact retries and empty items report where the stream is.
func batchItems(t *testing.T, _ Features, b Backend) {
	s := b.Store
	mustAppend(t, s, "b", cqrs.NoStream, deposited(1))
	res := appendBatch(t, s,
		cqrs.StreamAppend{StreamID: "a", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{deposited(2).WithID("a1"), deposited(3).WithID("a2")}},
		cqrs.StreamAppend{StreamID: "b", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{deposited(4)}},
		cqrs.StreamAppend{StreamID: "c", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{{Data: []byte(`{}`)}}},
		cqrs.StreamAppend{StreamID: "a", ExpectedVersion: 2, Events: []cqrs.Event{deposited(5)}},
		cqrs.StreamAppend{StreamID: "a", ExpectedVersion: cqrs.AnyVersion, Events: []cqrs.Event{deposited(6).WithID("a2"), deposited(7).WithID("x")}},
		cqrs.StreamAppend{StreamID: "a", ExpectedVersion: cqrs.AnyVersion, Events: []cqrs.Event{deposited(2).WithID("a1"), deposited(3).WithID("a2")}},
		cqrs.StreamAppend{StreamID: "e", ExpectedVersion: cqrs.NoStream},
		cqrs.StreamAppend{StreamID: "b", ExpectedVersion: 1, Events: []cqrs.Event{deposited(8)}},
		cqrs.StreamAppend{StreamID: "b", ExpectedVersion: cqrs.StreamExists},
	)
	assert.NoError(t, res[0].Err, "item 0")
	assert.Equal(t, cqrs.Appended{Version: 2, Position: 3}, res[0].Appended, "item 0")
	if c := conflict(t, res[1].Err); c != nil {
		assert.Equal(t, int64(1), c.Actual, "item 1: the stream's version")
	}
	assert.ErrorIs(t, res[2].Err, cqrs.ErrInvalidArgument, "item 2: an event without a type")
	assert.NoError(t, res[3].Err, "item 3")
	assert.Equal(t, cqrs.Appended{Version: 3, Position: 4}, res[3].Appended, "item 3 sees item 0")
	assert.ErrorIs(t, res[4].Err, cqrs.ErrDuplicateEventID, "item 4: a known id, no exact retry")
	assert.NoError(t, res[5].Err, "item 5")
	assert.Equal(t, cqrs.Appended{Version: 2, Position: 3}, res[5].Appended, "item 5: an exact retry of item 0")
	assert.NoError(t, res[6].Err, "item 6")
	assert.Equal(t, cqrs.Appended{}, res[6].Appended, "item 6: no events, no stream")
	assert.NoError(t, res[7].Err, "item 7")
	assert.Equal(t, cqrs.Appended{Version: 2, Position: 5}, res[7].Appended, "item 7")
	assert.NoError(t, res[8].Err, "item 8")
	assert.Equal(t, cqrs.Appended{Version: 2, Position: 5}, res[8].Appended, "item 8 sees item 7")

	all := readAll(t, s)
	want := []struct {
		stream  string
		version int64
		amount  string
	}{{"b", 1, "1"}, {"a", 1, "2"}, {"a", 2, "3"}, {"a", 3, "5"}, {"b", 2, "8"}}
	require.Len(t, all, len(want), "the log after the batch")
	for i, w := range want {
		e := all[i]
		assert.Equal(t, int64(i+1), e.Position, "event %d", i)
		assert.Equal(t, w.stream, e.StreamID, "event %d", i)
		assert.Equal(t, w.version, e.Version, "event %d", i)
		assert.JSONEq(t, `{"amount":`+w.amount+`}`, string(e.Data), "event %d", i)
	}
	assert.Empty(t, mustLoad(t, s, "c", 1), "the invalid item wrote")
	assert.Empty(t, mustLoad(t, s, "e", 1), "the empty item wrote")
	if _, ok := s.(cqrs.Header); ok {
		assertHead(t, s, 5)
	}
}

// batchRetry: a batch whose events all carry ids can be sent again as a
// whole (what a caller does after the call's error): every item comes
// back as an exact retry, where the first call put it, and nothing is
// written twice. A cancelled batch writes nothing, and an empty one is
// no error.
func batchRetry(t *testing.T, _ Features, b Backend) {
	batch := []cqrs.StreamAppend{
		{StreamID: "p", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{deposited(1).WithID("p1")}},
		{StreamID: "q", ExpectedVersion: cqrs.NoStream, Events: []cqrs.Event{deposited(2).WithID("q1"), deposited(3).WithID("q2")}},
		{StreamID: "r", ExpectedVersion: cqrs.AnyVersion, Events: []cqrs.Event{deposited(4).WithID("r1")}},
	}
	first := appendBatch(t, b.Store, batch...)
	again := appendBatch(t, b.handle(), batch...)
	want := []cqrs.Appended{{Version: 1, Position: 1}, {Version: 2, Position: 3}, {Version: 1, Position: 4}}
	for i := range batch {
		assert.NoError(t, first[i].Err, "item %d", i)
		assert.NoError(t, again[i].Err, "item %d, again", i)
		assert.Equal(t, want[i], first[i].Appended, "item %d", i)
		assert.Equal(t, want[i], again[i].Appended, "item %d, again", i)
	}
	assert.Len(t, readAll(t, b.Store), 4, "the retried batch wrote again")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := cqrs.AppendBatch(ctx, b.Store, []cqrs.StreamAppend{{StreamID: "s", ExpectedVersion: cqrs.AnyVersion, Events: []cqrs.Event{deposited(5)}}})
	assert.ErrorIs(t, err, context.Canceled, "a cancelled batch")
	assert.Nil(t, res, "a failed batch has no results")
	assert.Len(t, readAll(t, b.Store), 4, "a cancelled batch wrote")

	res = appendBatch(t, b.Store)
	assert.Empty(t, res, "an empty batch")
}
