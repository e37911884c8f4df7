package cqrstest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// racingAppends: 100 goroutines on four handles append to one stream with
// the same expected version, three rounds; exactly one wins each round,
// the others get a conflict naming the winner's version.
func racingAppends(t *testing.T, _ Features, b Backend) {
	stores := []cqrs.EventStore{b.Store, b.handle(), b.handle(), b.handle()}
	mustAppend(t, b.Store, "race", cqrs.NoStream, deposited(0))
	for round := 0; round < 3; round++ {
		exp := int64(1 + round)
		errs := make([]error, 100)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for g := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[g] = stores[g%len(stores)].Append(context.Background(), "race", exp, deposited(g))
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for g, err := range errs {
			var ce *cqrs.ConflictError
			switch {
			case err == nil:
				wins++
			case errors.As(err, &ce):
				assert.Equal(t, exp+1, ce.Actual, "round %d, writer %d: the conflict's actual version", round, g)
			default:
				t.Errorf("round %d, writer %d: %v", round, g, err)
			}
		}
		require.Equal(t, 1, wins, "round %d: winners", round)
	}
	assert.Len(t, mustLoad(t, b.handle(), "race", 1), 4)
	assert.Len(t, readAll(t, b.Store), 4)
}

// globalOrder: concurrent writers on many streams, with checked appends.
// The global log has positions 1…N without gaps, holds every stream's
// events in their version order, agrees with Load, and keeps each append's
// events together.
func globalOrder(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	const writers, perWriter, streams = 8, 40, 10
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		s := b.handle()
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(int64(w)))
			for i := 0; i < perWriter; i++ {
				stream := fmt.Sprint("s", rnd.Intn(streams))
				batch := make([]cqrs.Event, 1+rnd.Intn(3))
				for j := range batch {
					batch[j] = cqrs.MustEvent("E", map[string]int{"w": w, "i": i, "j": j})
				}
				if err := appendChecked(ctx, s, stream, batch); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	s := b.handle()
	all := readAll(t, s)
	last := map[string]int64{}
	for i, e := range all {
		require.Equal(t, int64(i+1), e.Position, "index %d", i)
		require.Equal(t, last[e.StreamID]+1, e.Version, "stream %s: version %d after %d in the global order", e.StreamID, e.Version, last[e.StreamID])
		last[e.StreamID] = e.Version
	}
	for stream, v := range last {
		evs := mustLoad(t, s, stream, 1)
		require.Len(t, evs, int(v), "stream %s: Load and the global log disagree", stream)
		for _, e := range evs {
			assertSameEvent(t, all[e.Position-1], e)
		}
	}
	for i := 1; i < len(all); i++ {
		var a, b map[string]int
		require.NoError(t, all[i-1].Decode(&a))
		require.NoError(t, all[i].Decode(&b))
		if b["j"] > 0 {
			require.True(t, a["w"] == b["w"] && a["i"] == b["i"] && a["j"] == b["j"]-1,
				"an append interleaved at position %d: %v then %v", i+1, a, b)
		}
	}
}

// appendChecked reads the stream's version and appends at it, again on a
// conflict: how an aggregate writes.
func appendChecked(ctx context.Context, s cqrs.EventStore, stream string, batch []cqrs.Event) error {
	for {
		evs, err := s.Load(ctx, stream, 1)
		if err != nil {
			return err
		}
		_, err = s.Append(ctx, stream, int64(len(evs)), batch...)
		if !errors.Is(err, cqrs.ErrConflict) {
			return err
		}
	}
}
