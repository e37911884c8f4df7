package cqrs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// seenTypes is a read-model handler that counts the events it is shown,
// by stream and type, and keeps per stream how many it applied.
type seenTypes struct {
	mu   sync.Mutex
	seen map[string]int // "stream/type" -> events shown
}

func (s *seenTypes) handler(ctx context.Context, tx *Tx[int], e Event) error {
	s.mu.Lock()
	s.seen[e.StreamID+"/"+e.Type]++
	s.mu.Unlock()
	n, _, err := tx.Get(ctx, e.StreamID)
	if err != nil {
		return err
	}
	tx.Put(e.StreamID, n+1)
	return nil
}

func (s *seenTypes) reset() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.seen
	s.seen = map[string]int{}
	return old
}

// TestRunnerEventFilter: with WithEventFilter the projection is shown
// only the events that pass (by type and stream prefix), on memory and
// Redis read models, in a catch-up and in a rebuild; its checkpoint still
// reaches the head, so waiting for a filtered-out event's position works.
func TestRunnerEventFilter(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s := st.newStore()
		mustAppend(t, s, "link-1", NoStream, ev("Created", nil))
		for range 5 {
			mustAppend(t, s, "click-1", AnyVersion, ev("Clicked", nil))
		}
		mustAppend(t, s, "link-1", 1, ev("Deleted", nil))
		mustAppend(t, s, "other-1", NoStream, ev("Created", nil))
		mustAppend(t, s, "link-2", NoStream, ev("Created", nil))
		last := mustAppend(t, s, "click-2", NoStream, ev("Clicked", nil))
		lastPos := positionAt(t, s, "click-2", last)

		seen := &seenTypes{seen: map[string]int{}}
		models := map[string]Rebuilder{}
		mem, err := NewMemoryReadModel("filtered", seen.handler)
		if err != nil {
			t.Fatal(err)
		}
		models["memory"] = mem
		if st.tg != nil {
			rm, err := NewRedisReadModel(st.tg.Client, "filtered", seen.handler, WithPrefix(st.tg.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			models["redis"] = rm
		}
		for name, m := range models {
			seen.reset()
			r, err := NewRunner(s, m, WithBatchSize(3),
				WithEventFilter(EventFilter{Types: []string{"Created", "Deleted"}, StreamPrefixes: []string{"link-"}}))
			if err != nil {
				t.Fatal(err)
			}
			cp, err := r.CatchUp(ctx)
			if err != nil || cp != lastPos {
				t.Fatalf("%s: catch-up to %d: %d %v", name, lastPos, cp, err)
			}
			want := map[string]int{"link-1/Created": 1, "link-1/Deleted": 1, "link-2/Created": 1}
			if got := seen.reset(); !equalCounts(got, want) {
				t.Fatalf("%s: shown %v, want %v", name, got, want)
			}
			if st := r.Stats(); st.Filtered != 7 || st.Applied != 10 {
				t.Fatalf("%s: stats %+v", name, st)
			}
			if err := r.WaitFor(ctx, lastPos); err != nil {
				t.Fatal(err)
			}
			if err := r.Rebuild(ctx); err != nil {
				t.Fatal(err)
			}
			if got := seen.reset(); !equalCounts(got, want) {
				t.Fatalf("%s: rebuild shown %v, want %v", name, got, want)
			}
			if cp, err := m.Checkpoint(ctx); err != nil || cp != lastPos {
				t.Fatalf("%s: after the rebuild at %d %v", name, cp, err)
			}
		}
	})
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// plainProjection is a Projection that is no RangeApplier.
type plainProjection struct{ Projection }

func TestRunnerEventFilterConfig(t *testing.T) {
	m, err := NewMemoryReadModel("m", balances)
	if err != nil {
		t.Fatal(err)
	}
	s := NewMemoryStore()
	for name, c := range map[string]struct {
		p Projection
		f EventFilter
	}{
		"empty filter":     {m, EventFilter{}},
		"empty type":       {m, EventFilter{Types: []string{""}}},
		"empty prefix":     {m, EventFilter{StreamPrefixes: []string{""}}},
		"no range applier": {plainProjection{m}, EventFilter{Types: []string{"X"}}},
	} {
		if _, err := NewRunner(s, c.p, WithEventFilter(c.f)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := NewRunner(s, m, WithEventFilter(EventFilter{Types: []string{"X"}})); err != nil {
		t.Fatal(err)
	}
}
