package cqrstest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// SnapshotFactory returns a fresh, empty snapshot store for one case; it
// registers its own clean-up with t.
type SnapshotFactory func(t *testing.T) cqrs.SnapshotStore

// SnapshotCase is one named conformance case of cqrs.SnapshotStore.
type SnapshotCase struct {
	// Name is the subtest's name.
	Name string
	// Run checks the store.
	Run func(t *testing.T, s cqrs.SnapshotStore)
}

// SnapshotCases are the cases TestSnapshotStore runs, in order.
var SnapshotCases = []SnapshotCase{
	{"no snapshot", noSnapshot},
	{"save and load round trip", snapshotRoundTrip},
	{"an older or equal version is ignored", olderSnapshotIgnored},
	{"another schema replaces it", otherSchemaReplaces},
	{"invalid snapshots", invalidSnapshots},
	{"stream ids with odd characters", oddSnapshotStreams},
	{"saved data is a copy", snapshotCopy},
	{"cancelled context", cancelledSnapshot},
}

// TestSnapshotStore runs every case of SnapshotCases as a subtest of t,
// each on a fresh store from newStore.
func TestSnapshotStore(t *testing.T, newStore SnapshotFactory) {
	t.Helper()
	for _, c := range SnapshotCases {
		t.Run(c.Name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "cqrstest: the factory returned no SnapshotStore")
			c.Run(t, s)
		})
	}
}

func snap(stream string, version int64, schema int, data string) cqrs.Snapshot {
	return cqrs.Snapshot{StreamID: stream, Version: version, Schema: schema, Data: []byte(data)}
}

func mustLoadSnapshot(t *testing.T, s cqrs.SnapshotStore, stream string) (cqrs.Snapshot, bool) {
	t.Helper()
	got, ok, err := s.LoadSnapshot(context.Background(), stream)
	require.NoError(t, err, "LoadSnapshot(%q)", stream)
	return got, ok
}

func noSnapshot(t *testing.T, s cqrs.SnapshotStore) {
	_, ok := mustLoadSnapshot(t, s, "acc-1")
	assert.False(t, ok)
}

func snapshotRoundTrip(t *testing.T, s cqrs.SnapshotStore) {
	want := snap("acc-1", 7, 2, `{"balance":10,"owner":"ünï \"q\""}`)
	require.NoError(t, s.SaveSnapshot(context.Background(), want))
	got, ok := mustLoadSnapshot(t, s, "acc-1")
	require.True(t, ok)
	assert.Equal(t, "acc-1", got.StreamID)
	assert.Equal(t, int64(7), got.Version)
	assert.Equal(t, 2, got.Schema)
	assert.JSONEq(t, string(want.Data), string(got.Data))
	_, ok = mustLoadSnapshot(t, s, "acc-2")
	assert.False(t, ok, "a snapshot of another stream")
}

func olderSnapshotIgnored(t *testing.T, s cqrs.SnapshotStore) {
	ctx := context.Background()
	require.NoError(t, s.SaveSnapshot(ctx, snap("acc-1", 7, 1, `{"v":7}`)))
	require.NoError(t, s.SaveSnapshot(ctx, snap("acc-1", 5, 1, `{"v":5}`)), "an older snapshot is no error")
	require.NoError(t, s.SaveSnapshot(ctx, snap("acc-1", 7, 1, `{"v":"again"}`)), "the same version is no error")
	got, _ := mustLoadSnapshot(t, s, "acc-1")
	assert.Equal(t, int64(7), got.Version)
	assert.JSONEq(t, `{"v":7}`, string(got.Data), "the first snapshot of a version stays")
	require.NoError(t, s.SaveSnapshot(ctx, snap("acc-1", 9, 1, `{"v":9}`)))
	got, _ = mustLoadSnapshot(t, s, "acc-1")
	assert.Equal(t, int64(9), got.Version, "a newer snapshot replaces it")
}

func otherSchemaReplaces(t *testing.T, s cqrs.SnapshotStore) {
	ctx := context.Background()
	require.NoError(t, s.SaveSnapshot(ctx, snap("acc-1", 7, 1, `{"v":7}`)))
	require.NoError(t, s.SaveSnapshot(ctx, snap("acc-1", 3, 2, `{"v":3}`)))
	got, _ := mustLoadSnapshot(t, s, "acc-1")
	assert.Equal(t, 2, got.Schema, "a snapshot of another schema replaces an older-schema one, whatever its version")
	assert.Equal(t, int64(3), got.Version)
}

func invalidSnapshots(t *testing.T, s cqrs.SnapshotStore) {
	for name, bad := range map[string]cqrs.Snapshot{
		"no stream id":  snap("", 1, 1, `{}`),
		"version 0":     snap("x", 0, 1, `{}`),
		"schema 0":      snap("x", 1, 0, `{}`),
		"data not JSON": snap("x", 1, 1, `{nope`),
	} {
		assert.ErrorIs(t, s.SaveSnapshot(context.Background(), bad), cqrs.ErrInvalidArgument, name)
	}
	_, ok := mustLoadSnapshot(t, s, "x")
	assert.False(t, ok, "an invalid snapshot was saved")
}

func oddSnapshotStreams(t *testing.T, s cqrs.SnapshotStore) {
	ids := []string{"a{b}c", "}", "{", "sp ace", "ünï:cöde", strings.Repeat("x", 300)}
	for i, id := range ids {
		require.NoError(t, s.SaveSnapshot(context.Background(), snap(id, int64(i+1), 1, `{}`)), "%q", id)
	}
	for i, id := range ids {
		got, ok := mustLoadSnapshot(t, s, id)
		if assert.True(t, ok, "%q", id) {
			assert.Equal(t, int64(i+1), got.Version, "%q", id)
			assert.Equal(t, id, got.StreamID)
		}
	}
}

func snapshotCopy(t *testing.T, s cqrs.SnapshotStore) {
	data := []byte(`{"v":1}`)
	require.NoError(t, s.SaveSnapshot(context.Background(), cqrs.Snapshot{StreamID: "a", Version: 1, Schema: 1, Data: data}))
	data[2] = 'X'
	got, _ := mustLoadSnapshot(t, s, "a")
	assert.JSONEq(t, `{"v":1}`, string(got.Data), "the store changed through the saved buffer")
}

func cancelledSnapshot(t *testing.T, s cqrs.SnapshotStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, s.SaveSnapshot(ctx, snap("a", 1, 1, `{}`)), context.Canceled, "save")
	_, _, err := s.LoadSnapshot(ctx, "a")
	assert.ErrorIs(t, err, context.Canceled, "load")
	_, ok := mustLoadSnapshot(t, s, "a")
	assert.False(t, ok, "a cancelled save wrote")
}
