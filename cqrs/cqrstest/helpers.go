package cqrstest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

func deposited(n int) cqrs.Event {
	return cqrs.MustEvent("Deposited", map[string]int{"amount": n})
}

// events returns n events "Deposited" with amounts 1…n.
func events(n int) []cqrs.Event {
	evs := make([]cqrs.Event, n)
	for i := range evs {
		evs[i] = deposited(i + 1)
	}
	return evs
}

func mustAppend(t *testing.T, s cqrs.EventStore, stream string, exp int64, evs ...cqrs.Event) int64 {
	t.Helper()
	v, err := s.Append(context.Background(), stream, exp, evs...)
	require.NoError(t, err, "append %d events to %q at %d", len(evs), stream, exp)
	return v
}

func mustLoad(t *testing.T, s cqrs.EventStore, stream string, from int64) []cqrs.Event {
	t.Helper()
	evs, err := s.Load(context.Background(), stream, from)
	require.NoError(t, err, "load %q from %d", stream, from)
	return evs
}

// readAll reads the whole global log, in pages.
func readAll(t *testing.T, s cqrs.EventStore) []cqrs.Event {
	t.Helper()
	var all []cqrs.Event
	for {
		evs, err := s.ReadAll(context.Background(), int64(len(all))+1, 333)
		require.NoError(t, err, "read all from %d", len(all)+1)
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
	}
}

// head returns the store's Header, skipping the test when it has none.
func header(t *testing.T, s cqrs.EventStore) cqrs.Header {
	t.Helper()
	h, ok := s.(cqrs.Header)
	if !ok {
		t.Skipf("cqrstest: %T does not implement cqrs.Header", s)
	}
	return h
}

func assertHead(t *testing.T, s cqrs.EventStore, want int64) {
	t.Helper()
	h, ok := s.(cqrs.Header)
	if !ok {
		return // optional: the store is followed without it
	}
	got, err := h.Head(context.Background())
	require.NoError(t, err, "head")
	assert.Equal(t, want, got, "head")
}

// assertSameEvent checks what the store must preserve of an event.
func assertSameEvent(t *testing.T, want, got cqrs.Event) bool {
	t.Helper()
	same := want.StreamID == got.StreamID && want.Type == got.Type && want.Version == got.Version &&
		want.Position == got.Position && string(want.Data) == string(got.Data) &&
		want.RecordedAt.Equal(got.RecordedAt) && len(want.Metadata) == len(got.Metadata)
	for k, v := range want.Metadata {
		same = same && got.Metadata[k] == v
	}
	return assert.True(t, same, "events differ:\n want %s\n got  %s", fmtEvent(want), fmtEvent(got))
}

func fmtEvent(e cqrs.Event) string {
	m, _ := json.Marshal(e.Metadata)
	return fmt.Sprintf("%s@%d pos %d %s %s %s %s", e.StreamID, e.Version, e.Position, e.Type, e.Data, m,
		e.RecordedAt.Format(time.RFC3339Nano))
}

func conflict(t *testing.T, err error) *cqrs.ConflictError {
	t.Helper()
	var ce *cqrs.ConflictError
	require.ErrorIs(t, err, cqrs.ErrConflict)
	require.ErrorAs(t, err, &ce, "an ErrConflict must be a *cqrs.ConflictError")
	return ce
}
