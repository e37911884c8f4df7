package cqrstest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// Cases are the conformance cases TestEventStore runs, in order.
var Cases = []Case{
	{"empty store", emptyStore},
	{"append and load round trip", roundTrip},
	{"returned events are copies", copies},
	{"expected versions", expectedVersions},
	{"a refused append writes nothing", refusedAppend},
	{"empty append checks the version", emptyAppend},
	{"load from a version", loadFrom},
	{"read all from a position with a limit", readAllLimit},
	{"invalid arguments", invalidArguments},
	{"a retried append writes nothing", retriedAppend},
	{"a reused event id is a duplicate", reusedID},
	{"event ids are per stream", idsPerStream},
	{"stream ids with odd characters", oddStreamIDs},
	{"large batch", largeBatch},
	{"wait wakes on an append", waitWakes},
	{"cancelled context", cancelledContext},
	{"batch append: items checked one by one, in order", batchItems},
	{"batch append: retried whole, cancelled, empty", batchRetry},
	{"racing appends: exactly one wins", racingAppends},
	{"global order under concurrent writers", globalOrder},
}

func emptyStore(t *testing.T, _ Features, b Backend) {
	assert.Empty(t, mustLoad(t, b.Store, "nope", 1), "load of a missing stream")
	evs, err := b.Store.ReadAll(context.Background(), 1, 10)
	require.NoError(t, err)
	assert.Empty(t, evs, "read all of an empty store")
	assertHead(t, b.Store, 0)
}

func roundTrip(t *testing.T, _ Features, b Backend) {
	before := time.Now().Add(-time.Hour)
	e1 := deposited(10).WithMeta("user", "ann").WithID("a-1")
	e2 := cqrs.MustEvent("Withdrawn", map[string]any{"amount": 3, "note": "ünïcödé \"quoted\" {brace}"})
	e3 := cqrs.Event{Type: "Frozen"} // no data
	require.Equal(t, int64(3), mustAppend(t, b.Store, "acc-1", cqrs.NoStream, e1, e2, e3), "new version")

	got := mustLoad(t, b.handle(), "acc-1", 1)
	require.Len(t, got, 3)
	for i, e := range got {
		assert.Equal(t, "acc-1", e.StreamID, "event %d", i+1)
		assert.Equal(t, int64(i+1), e.Version, "event %d: version", i+1)
		assert.Equal(t, int64(i+1), e.Position, "event %d: position", i+1)
		assert.True(t, e.RecordedAt.After(before) && e.RecordedAt.Before(time.Now().Add(time.Hour)),
			"event %d recorded at %v", i+1, e.RecordedAt)
		assert.True(t, e.RecordedAt.Equal(got[0].RecordedAt), "the events of one append have different times")
	}
	assert.Equal(t, "Deposited", got[0].Type)
	assert.JSONEq(t, `{"amount":10}`, string(got[0].Data))
	assert.Equal(t, map[string]string{"user": "ann", cqrs.MetaEventID: "a-1"}, got[0].Metadata)
	assert.Equal(t, "a-1", got[0].ID())
	assert.Equal(t, string(e2.Data), string(got[1].Data), "data bytes must be kept as given")
	assert.Nil(t, got[1].Metadata, "an event without metadata")
	assert.Equal(t, "Frozen", got[2].Type)
	assert.Empty(t, got[2].Data, "an event without data")

	all, err := b.Store.ReadAll(context.Background(), 1, 100)
	require.NoError(t, err)
	require.Len(t, all, 3)
	for i := range all {
		assertSameEvent(t, got[i], all[i])
	}
	assertHead(t, b.Store, 3)
}

func copies(t *testing.T, _ Features, b Backend) {
	mustAppend(t, b.Store, "acc-1", cqrs.NoStream, deposited(10).WithMeta("user", "ann"))
	evs := mustLoad(t, b.Store, "acc-1", 1)
	evs[0].Metadata["user"] = "mallory"
	evs[0].Type = "Changed"
	again := mustLoad(t, b.Store, "acc-1", 1)
	assert.Equal(t, "ann", again[0].Metadata["user"], "the store changed through a loaded event")
	assert.Equal(t, "Deposited", again[0].Type, "the store changed through a loaded event")

	data := []byte(`{"amount":7}`)
	meta := map[string]string{"k": "v"}
	mustAppend(t, b.Store, "copy", cqrs.NoStream, cqrs.Event{Type: "T", Data: data, Metadata: meta})
	data[2], meta["k"] = 'X', "changed"
	got := mustLoad(t, b.Store, "copy", 1)[0]
	assert.Equal(t, `{"amount":7}`, string(got.Data), "the store changed through an appended buffer")
	assert.Equal(t, "v", got.Metadata["k"], "the store changed through an appended map")
}

func expectedVersions(t *testing.T, _ Features, b Backend) {
	const ok = -100 // the append must succeed
	rows := []struct {
		name     string
		have     int // events in the stream before
		expected int64
		actual   int64 // the conflict's actual version, or ok
	}{
		{"NoStream on a new stream", 0, cqrs.NoStream, ok},
		{"NoStream on an existing stream", 3, cqrs.NoStream, 3},
		{"StreamExists on a new stream", 0, cqrs.StreamExists, 0},
		{"StreamExists on an existing stream", 3, cqrs.StreamExists, ok},
		{"AnyVersion on a new stream", 0, cqrs.AnyVersion, ok},
		{"AnyVersion on an existing stream", 3, cqrs.AnyVersion, ok},
		{"exact, right", 5, 5, ok},
		{"exact, stale", 6, 5, 6},
		{"exact, ahead", 6, 9, 6},
		{"exact on a new stream", 0, 1, 0},
	}
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			stream := fmt.Sprint("v-", i)
			if r.have > 0 {
				mustAppend(t, b.Store, stream, cqrs.NoStream, events(r.have)...)
			}
			v, err := b.handle().Append(context.Background(), stream, r.expected, deposited(1))
			if r.actual == ok {
				require.NoError(t, err)
				assert.Equal(t, int64(r.have+1), v, "new version")
				return
			}
			ce := conflict(t, err)
			assert.Equal(t, r.actual, ce.Actual, "Actual")
			assert.Equal(t, r.expected, ce.Expected, "Expected")
			assert.Equal(t, stream, ce.StreamID, "StreamID")
		})
	}
}

func refusedAppend(t *testing.T, _ Features, b Backend) {
	mustAppend(t, b.Store, "acc-1", cqrs.NoStream, events(6)...)
	mustAppend(t, b.Store, "acc-2", cqrs.NoStream, events(2)...)
	_, err := b.Store.Append(context.Background(), "acc-1", 1, deposited(1), deposited(2), deposited(3))
	conflict(t, err)
	assert.Len(t, readAll(t, b.Store), 8, "the global log grew")
	assert.Len(t, mustLoad(t, b.Store, "acc-1", 1), 6, "the stream grew")
	assertHead(t, b.Store, 8)
}

func emptyAppend(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	mustAppend(t, b.Store, "acc-1", cqrs.NoStream, events(6)...)
	v, err := b.Store.Append(ctx, "acc-1", 6)
	require.NoError(t, err, "right version")
	assert.Equal(t, int64(6), v)
	v, err = b.Store.Append(ctx, "acc-1", cqrs.AnyVersion)
	require.NoError(t, err, "AnyVersion")
	assert.Equal(t, int64(6), v)
	_, err = b.Store.Append(ctx, "acc-1", 2)
	conflict(t, err)
	v, err = b.Store.Append(ctx, "never", cqrs.NoStream)
	require.NoError(t, err, "new stream")
	assert.Equal(t, int64(0), v)
	assert.Empty(t, mustLoad(t, b.Store, "never", 1), "an empty append created events")
	assert.Len(t, readAll(t, b.Store), 6)
}

func loadFrom(t *testing.T, _ Features, b Backend) {
	mustAppend(t, b.Store, "acc-1", cqrs.NoStream, events(6)...)
	mustAppend(t, b.Store, "acc-2", cqrs.NoStream, events(2)...)
	for _, c := range []struct{ from, n, first int64 }{{1, 6, 1}, {0, 6, 1}, {-5, 6, 1}, {4, 3, 4}, {6, 1, 6}, {7, 0, 0}, {100, 0, 0}} {
		evs := mustLoad(t, b.handle(), "acc-1", c.from)
		if assert.Len(t, evs, int(c.n), "from %d", c.from) && c.n > 0 {
			assert.Equal(t, c.first, evs[0].Version, "from %d: first version", c.from)
			assert.Equal(t, int64(6), evs[len(evs)-1].Version, "from %d: last version", c.from)
		}
	}
}

func readAllLimit(t *testing.T, _ Features, b Backend) {
	for i := 0; i < 4; i++ {
		mustAppend(t, b.Store, fmt.Sprint("s-", i%3), cqrs.AnyVersion, events(1+i%2)...)
	}
	all := readAll(t, b.Store)
	n := int64(len(all))
	require.Equal(t, int64(6), n)
	for i, e := range all {
		require.Equal(t, int64(i+1), e.Position, "position at index %d", i)
	}
	other := b.handle()
	for _, c := range []struct {
		from  int64
		limit int
		want  int64
	}{{1, 1, 1}, {0, 2, 2}, {-3, 3, 3}, {2, 1000, n - 1}, {n, 5, 1}, {n + 1, 5, 0}, {n + 100, 5, 0}} {
		evs, err := other.ReadAll(context.Background(), c.from, c.limit)
		require.NoError(t, err, "from %d limit %d", c.from, c.limit)
		if !assert.Len(t, evs, int(c.want), "from %d limit %d", c.from, c.limit) {
			continue
		}
		for i, e := range evs {
			assertSameEvent(t, all[max(c.from, 1)-1+int64(i)], e)
		}
	}
	assertHead(t, b.Store, n)
}

func invalidArguments(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	s := b.Store
	bad := []struct {
		name string
		fn   func() error
	}{
		{"empty stream", func() error { _, err := s.Append(ctx, "", cqrs.AnyVersion, deposited(1)); return err }},
		{"no type", func() error { _, err := s.Append(ctx, "x", cqrs.AnyVersion, cqrs.Event{Data: []byte(`1`)}); return err }},
		{"data not JSON", func() error {
			_, err := s.Append(ctx, "x", cqrs.AnyVersion, cqrs.Event{Type: "T", Data: []byte(`{nope`)})
			return err
		}},
		{"expected version -3", func() error { _, err := s.Append(ctx, "x", -3, deposited(1)); return err }},
		{"event of another stream", func() error {
			e := deposited(1)
			e.StreamID = "y"
			_, err := s.Append(ctx, "x", cqrs.AnyVersion, e)
			return err
		}},
		{"id twice in one append", func() error {
			_, err := s.Append(ctx, "x", cqrs.AnyVersion, deposited(1).WithID("d"), deposited(2).WithID("d"))
			return err
		}},
		{"empty id", func() error { _, err := s.Append(ctx, "x", cqrs.AnyVersion, deposited(1).WithID("")); return err }},
		{"bad schema", func() error {
			_, err := s.Append(ctx, "x", cqrs.AnyVersion, deposited(1).WithMeta(cqrs.MetaSchema, "0"))
			return err
		}},
		{"load empty stream id", func() error { _, err := s.Load(ctx, "", 1); return err }},
		{"read all limit 0", func() error { _, err := s.ReadAll(ctx, 1, 0); return err }},
	}
	for _, c := range bad {
		assert.ErrorIs(t, c.fn(), cqrs.ErrInvalidArgument, c.name)
	}
	assert.Empty(t, mustLoad(t, s, "x", 1), "invalid appends wrote events")
	assert.Empty(t, readAll(t, s), "invalid appends wrote events")

	e := deposited(1)
	e.StreamID = "x"
	_, err := s.Append(ctx, "x", cqrs.NoStream, e)
	assert.NoError(t, err, "an event naming its own stream")
}

func retriedAppend(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	s, other := b.Store, b.handle()
	batch := []cqrs.Event{deposited(1).WithID("c1"), deposited(2).WithID("c2")}
	require.Equal(t, int64(2), mustAppend(t, s, "idem", cqrs.NoStream, batch...))
	// The same call again (a retry after a lost reply), from another process.
	for _, exp := range []int64{cqrs.NoStream, cqrs.AnyVersion, cqrs.StreamExists} {
		v, err := other.Append(ctx, "idem", exp, batch...)
		require.NoError(t, err, "retry at expected version %d", exp)
		assert.Equal(t, int64(2), v, "retry at expected version %d", exp)
	}
	mustAppend(t, s, "idem", 2, deposited(3).WithID("c3"))
	// A retry of the first append still succeeds after the stream moved on…
	v, err := other.Append(ctx, "idem", cqrs.NoStream, batch...)
	require.NoError(t, err, "late retry")
	assert.Equal(t, int64(2), v, "late retry")
	// …and one of the second returns its own version.
	v, err = other.Append(ctx, "idem", 2, deposited(3).WithID("c3"))
	require.NoError(t, err, "retry of the second append")
	assert.Equal(t, int64(3), v, "retry of the second append")
	assert.Len(t, readAll(t, s), 3, "retries wrote events")
}

func reusedID(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	other := b.handle()
	mustAppend(t, b.Store, "idem", cqrs.NoStream, deposited(1).WithID("c1"), deposited(2).WithID("c2"), deposited(3).WithID("c3"))
	_, err := other.Append(ctx, "idem", 1, deposited(2).WithID("c2"), deposited(9).WithID("c9"))
	conflict(t, err) // "stale, partly known ids: the version is checked first"
	rows := []struct {
		name   string
		exp    int64
		events []cqrs.Event
	}{
		{"partly known ids", cqrs.AnyVersion, []cqrs.Event{deposited(2).WithID("c2"), deposited(9).WithID("c9")}},
		{"known id second", 3, []cqrs.Event{deposited(9).WithID("c9"), deposited(1).WithID("c1")}},
		{"known ids, wrong order", cqrs.AnyVersion, []cqrs.Event{deposited(2).WithID("c2"), deposited(1).WithID("c1")}},
		{"known id and an event without id", cqrs.AnyVersion, []cqrs.Event{deposited(1).WithID("c1"), deposited(2)}},
	}
	for _, r := range rows {
		_, err := other.Append(ctx, "idem", r.exp, r.events...)
		assert.ErrorIs(t, err, cqrs.ErrDuplicateEventID, r.name)
	}
	_, err = other.Append(ctx, "idem", cqrs.NoStream, deposited(2).WithID("c2"))
	assert.ErrorIs(t, err, cqrs.ErrConflict, "a retry claiming the wrong version")
	assert.Len(t, mustLoad(t, b.Store, "idem", 1), 3, "refused appends wrote events")
	assert.Len(t, readAll(t, b.Store), 3, "refused appends wrote events")
}

func idsPerStream(t *testing.T, _ Features, b Backend) {
	batch := []cqrs.Event{deposited(1).WithID("c1"), deposited(2).WithID("c2")}
	mustAppend(t, b.Store, "idem", cqrs.NoStream, batch...)
	v, err := b.handle().Append(context.Background(), "idem-2", cqrs.NoStream, batch...)
	require.NoError(t, err, "the same ids in another stream")
	assert.Equal(t, int64(2), v)
	assert.Len(t, readAll(t, b.Store), 4)
}

func oddStreamIDs(t *testing.T, _ Features, b Backend) {
	other := b.handle()
	for _, id := range []string{"a{b}c", "}", "{", "sp ace", "ünï:cöde", "line\nbreak", strings.Repeat("x", 300)} {
		mustAppend(t, b.Store, id, cqrs.NoStream, deposited(1))
		evs := mustLoad(t, other, id, 1)
		if assert.Len(t, evs, 1, "stream %q", id) {
			assert.Equal(t, id, evs[0].StreamID)
		}
	}
}

func largeBatch(t *testing.T, f Features, b Backend) {
	n := 1234
	if f.MaxBatch > 0 {
		n = min(n, f.MaxBatch)
	}
	other := b.handle()
	mustAppend(t, b.Store, "before", cqrs.NoStream, deposited(0))
	batch := make([]cqrs.Event, n)
	for i := range batch {
		batch[i] = deposited(i).WithID(fmt.Sprint("big-", i))
	}
	require.Equal(t, int64(n), mustAppend(t, b.Store, "big", cqrs.NoStream, batch...))
	evs := mustLoad(t, other, "big", 1)
	require.Len(t, evs, n)
	for i, e := range evs {
		require.Equal(t, int64(i+1), e.Version, "event %d", i)
		require.Equal(t, int64(i+2), e.Position, "event %d", i)
		require.JSONEq(t, fmt.Sprintf(`{"amount":%d}`, i), string(e.Data), "event %d", i)
	}
	v, err := other.Append(context.Background(), "big", cqrs.NoStream, batch...)
	require.NoError(t, err, "retry of a large batch")
	assert.Equal(t, int64(n), v, "retry of a large batch")
	from := int64(n) - 233
	tail := mustLoad(t, other, "big", from)
	if assert.Len(t, tail, 234, "load from %d", from) {
		assert.Equal(t, from, tail[0].Version)
	}
}

func waitWakes(t *testing.T, _ Features, b Backend) {
	w, ok := b.Store.(cqrs.Waiter)
	if !ok {
		t.Skipf("cqrstest: %T does not implement cqrs.Waiter", b.Store)
	}
	h := header(t, b.Store)
	ctx := context.Background()
	mustAppend(t, b.Store, "a", cqrs.NoStream, events(3)...)
	require.NoError(t, w.Wait(ctx, 2), "a wait with events after it must return at once")

	woke := make(chan error, 1)
	wctx, stop := context.WithCancel(ctx)
	defer stop() // ends the waiter when the case fails
	go func() {
		// Spurious wake-ups are allowed: wait until the event is there.
		for {
			if err := w.Wait(wctx, 3); err != nil {
				woke <- err
				return
			}
			if n, err := h.Head(wctx); err != nil || n > 3 {
				woke <- err
				return
			}
		}
	}()
	mustAppend(t, b.handle(), "wake", cqrs.AnyVersion, deposited(1))
	select {
	case err := <-woke:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not wake up after an append")
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, w.Wait(cctx, 4), context.Canceled, "a cancelled wait")
}

func cancelledContext(t *testing.T, _ Features, b Backend) {
	mustAppend(t, b.Store, "c", cqrs.NoStream, deposited(1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Store.Append(ctx, "c", cqrs.AnyVersion, deposited(1))
	assert.ErrorIs(t, err, context.Canceled, "append")
	_, err = b.Store.Load(ctx, "c", 1)
	assert.ErrorIs(t, err, context.Canceled, "load")
	_, err = b.Store.ReadAll(ctx, 1, 1)
	assert.ErrorIs(t, err, context.Canceled, "read all")
	assert.Len(t, mustLoad(t, b.Store, "c", 1), 1, "a cancelled append wrote")
}
