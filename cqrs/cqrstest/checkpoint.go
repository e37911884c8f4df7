package cqrstest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// CheckpointFactory returns a fresh, empty checkpoint store for one case;
// it registers its own clean-up with t.
type CheckpointFactory func(t *testing.T) cqrs.CheckpointStore

// CheckpointCase is one named conformance case of cqrs.CheckpointStore.
type CheckpointCase struct {
	// Name is the subtest's name.
	Name string
	// Run checks the store.
	Run func(t *testing.T, s cqrs.CheckpointStore)
}

// CheckpointCases are the cases TestCheckpointStore runs, in order.
var CheckpointCases = []CheckpointCase{
	{"no checkpoint reads 0", noCheckpoint},
	{"save sets it, backwards too", saveCheckpoint},
	{"names are independent", checkpointNames},
	{"a negative position is refused", negativeCheckpoint},
	{"cancelled context", cancelledCheckpoint},
}

// TestCheckpointStore runs every case of CheckpointCases as a subtest of
// t, each on a fresh store from newStore.
func TestCheckpointStore(t *testing.T, newStore CheckpointFactory) {
	t.Helper()
	for _, c := range CheckpointCases {
		t.Run(c.Name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "cqrstest: the factory returned no CheckpointStore")
			c.Run(t, s)
		})
	}
}

func loadCheckpoint(t *testing.T, s cqrs.CheckpointStore, name string) int64 {
	t.Helper()
	pos, err := s.LoadCheckpoint(context.Background(), name)
	require.NoError(t, err, "LoadCheckpoint(%q)", name)
	return pos
}

func noCheckpoint(t *testing.T, s cqrs.CheckpointStore) {
	assert.Equal(t, int64(0), loadCheckpoint(t, s, "balances"))
}

func saveCheckpoint(t *testing.T, s cqrs.CheckpointStore) {
	ctx := context.Background()
	for _, pos := range []int64{5, 1 << 53, 3, 0} { // a rebuild sets it back to 0
		require.NoError(t, s.SaveCheckpoint(ctx, "balances", pos))
		assert.Equal(t, pos, loadCheckpoint(t, s, "balances"))
	}
}

func checkpointNames(t *testing.T, s cqrs.CheckpointStore) {
	ctx := context.Background()
	names := []string{"a", "b", "a:b", "{a}", "ünï cöde"}
	for i, n := range names {
		require.NoError(t, s.SaveCheckpoint(ctx, n, int64(10+i)))
	}
	for i, n := range names {
		assert.Equal(t, int64(10+i), loadCheckpoint(t, s, n), "%q", n)
	}
}

func negativeCheckpoint(t *testing.T, s cqrs.CheckpointStore) {
	ctx := context.Background()
	require.NoError(t, s.SaveCheckpoint(ctx, "balances", 4))
	assert.ErrorIs(t, s.SaveCheckpoint(ctx, "balances", -1), cqrs.ErrInvalidArgument)
	assert.Equal(t, int64(4), loadCheckpoint(t, s, "balances"), "a refused save changed the checkpoint")
}

func cancelledCheckpoint(t *testing.T, s cqrs.CheckpointStore) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.LoadCheckpoint(ctx, "balances")
	assert.ErrorIs(t, err, context.Canceled, "load")
	assert.ErrorIs(t, s.SaveCheckpoint(ctx, "balances", 1), context.Canceled, "save")
	assert.Equal(t, int64(0), loadCheckpoint(t, s, "balances"), "a cancelled save wrote")
}
