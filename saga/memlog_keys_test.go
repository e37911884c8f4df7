package saga

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two keys with one hash (forced here; next to never by chance) are two
// records: each is found, listed as abandoned, and dropped on its own,
// whichever went first.
func TestMemoryLogHashCollisions(t *testing.T) {
	ml, err := NewMemoryLog()
	require.NoError(t, err)
	s, h := ml.locate("a", "x")
	s.mu.Lock()
	x := s.newRec(h, "a", "x")
	y := s.newRec(h, "a", "y")
	z := s.newRec(h, "b", "x")
	s.mu.Unlock()
	require.False(t, x.collided)
	require.True(t, y.collided && z.collided)
	for _, r := range []*memRec{x, y, z} {
		r.expires = -time.Hour // running under an expired lease
	}
	find := func(saga, id string) *memRec {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.find(h, saga, id)
	}
	assert.Same(t, x, find("a", "x"))
	assert.Same(t, y, find("a", "y"))
	assert.Same(t, z, find("b", "x"))
	assert.Nil(t, find("b", "y"))
	ids, err := ml.Abandoned(context.Background(), "a", 10)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"x", "y"}, ids)

	s.mu.Lock()
	s.drop(x)
	s.mu.Unlock()
	assert.Nil(t, find("a", "x"))
	assert.Same(t, y, find("a", "y"), "the collided record outlives the one that held its hash")
	s.mu.Lock()
	w := s.newRec(h, "c", "w")
	s.drop(y)
	s.mu.Unlock()
	assert.False(t, w.collided, "a freed hash is taken again")
	assert.Same(t, w, find("c", "w"))
	assert.Nil(t, find("a", "y"))
	assert.Same(t, z, find("b", "x"))
	ids, err = ml.Abandoned(context.Background(), "a", 10)
	require.NoError(t, err)
	assert.Empty(t, ids)
}

// A log that outgrows its record's buffer (long data, a long id) moves to
// the shard's spilled map and reads back whole; it leaves with its record.
func TestMemoryLogSpillsLongLogs(t *testing.T) {
	clock := newFakeClock()
	ml, err := NewMemoryLog(WithClock(clock.Now), WithRetention(time.Minute))
	require.NoError(t, err)
	grow := func(_ context.Context, d *plainData) error { d.ID += strings.Repeat("z", 100); d.N++; return nil }
	s := mustNew(t, "spill", []Step[plainData]{{Name: "a", Action: grow}, {Name: "b", Action: grow}, {Name: "c", Action: grow}},
		WithLog(ml), WithClock(clock.Now))
	ctx := context.Background()
	longID := strings.Repeat("i", 400)
	for _, id := range []string{"short", longID} {
		res, err := s.Execute(ctx, id, plainData{ID: "start"})
		require.NoError(t, err)
		got, err := s.Get(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, res.Data, got.Data)
		assert.Equal(t, 3, got.Data.N)
		rec, err := ml.Load(ctx, "spill", id)
		require.NoError(t, err)
		require.Len(t, rec.Entries, 8)
		assert.Equal(t, Started, rec.Entries[0].Kind)
		assert.Equal(t, Finished, rec.Entries[7].Kind)
		assert.Equal(t, "c", rec.Entries[6].StepName)
	}
	sh, h := ml.locate("spill", longID)
	sh.mu.Lock()
	old := sh.find(h, "spill", longID)
	_, spilled := sh.spilled[old]
	sh.mu.Unlock()
	require.True(t, spilled, "a 400-byte id does not fit a record's buffer")
	clock.Advance(2 * time.Minute)
	_, err = ml.Load(ctx, "spill", longID)
	require.ErrorIs(t, err, ErrNotFound, "past the retention")
	_, err = s.Execute(ctx, longID, plainData{}) // drops the old record, past its retention
	require.NoError(t, err)
	sh.mu.Lock()
	_, spilled = sh.spilled[old]
	sh.mu.Unlock()
	assert.True(t, old.dropped)
	assert.False(t, spilled, "the dropped record's spilled log is still held")
}
