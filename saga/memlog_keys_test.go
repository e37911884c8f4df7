package saga

import (
	"context"
	"fmt"
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

// A swept record is reused for a new saga; a process that still holds
// the old saga (it was taken over, finished by the other process and
// swept while a step ran) is refused with ErrLeaseLost and writes nothing
// into the new saga.
func TestMemoryLogReusedRecordRefusesAStaleHold(t *testing.T) {
	clock := newFakeClock()
	ml, err := NewMemoryLog(WithClock(clock.Now), WithRetention(time.Minute))
	require.NoError(t, err)
	ctx := context.Background()
	lease := 30 * time.Second
	begun := []Entry{{Kind: Started, Step: -1}, {Kind: StepBegun, Step: 0, StepName: "a"}}
	_, hold, err := ml.claim(ctx, "s", "x", lease, begun, time.Time{})
	require.NoError(t, err)
	require.NotNil(t, hold.rec)

	clock.Advance(2 * lease) // the holder looks dead: another process takes over and finishes
	c, err := ml.Claim(ctx, "s", "x", lease, nil)
	require.NoError(t, err)
	require.NoError(t, ml.Append(ctx, "s", "x", c.Token, lease, []Entry{{Kind: Finished, Step: -1, Status: Compensated}}))

	// Ids in x's shard, to sweep it and then take its record.
	sameShard := func(prefix string) string {
		for i := 0; ; i++ {
			id := fmt.Sprint(prefix, i)
			if s, _ := ml.locate("s", id); s == hold.shard {
				return id
			}
		}
	}
	clock.Advance(2 * time.Minute)
	done := append(begun[:1:1], Entry{Kind: Finished, Step: -1, Status: Completed})
	_, _, err = ml.claim(ctx, "s", sameShard("sweeper"), lease, done, time.Time{})
	require.NoError(t, err)
	newID := sameShard("new")
	_, fresh, err := ml.claim(ctx, "s", newID, lease, begun, time.Time{})
	require.NoError(t, err)
	require.Same(t, hold.rec, fresh.rec, "the swept record is reused")

	err = ml.appendHeld(ctx, hold, 1, lease, []Entry{{Kind: StepDone, Step: 0, StepName: "a"}}, time.Time{})
	require.ErrorIs(t, err, ErrLeaseLost)
	rec, err := ml.Load(ctx, "s", newID)
	require.NoError(t, err)
	require.Len(t, rec.Entries, 2, "the stale write reached the new saga")
	require.NoError(t, ml.appendHeld(ctx, fresh, 1, lease, []Entry{{Kind: StepDone, Step: 0, StepName: "a"}}, time.Time{}))
}
