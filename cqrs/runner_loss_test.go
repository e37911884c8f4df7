package cqrs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
)

// losingStore is an event store that can lose every event, as a Redis
// restarted without persistence does: Lose swaps in an empty store.
type losingStore struct {
	mu sync.Mutex
	s  *MemoryStore
}

func (l *losingStore) cur() *MemoryStore {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s
}

func (l *losingStore) Lose() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s = NewMemoryStore()
}

func (l *losingStore) Append(ctx context.Context, id string, exp int64, evs ...Event) (int64, error) {
	return l.cur().Append(ctx, id, exp, evs...)
}

func (l *losingStore) Load(ctx context.Context, id string, from int64) ([]Event, error) {
	return l.cur().Load(ctx, id, from)
}

func (l *losingStore) ReadAll(ctx context.Context, from int64, limit int) ([]Event, error) {
	return l.cur().ReadAll(ctx, from, limit)
}

func (l *losingStore) Head(ctx context.Context) (int64, error) { return l.cur().Head(ctx) }

// Wait polls: the store it would wait on may be swapped meanwhile.
func (l *losingStore) Wait(ctx context.Context, after int64) error {
	return backoff.Sleep(ctx, 5*time.Millisecond)
}

// eventually polls cond for up to 5s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 5s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A store that lost its events (restarted empty) while the projection,
// kept elsewhere, did not: positions start again at 1, below the
// projection's checkpoint. The runner used to skip every new event until
// the store passed the old checkpoint. Now it reports ErrStoreBehind and
// rebuilds a Rebuilder from what the store holds, then follows it.
func TestRunnerRebuildsAfterTheStoreLostEvents(t *testing.T) {
	store := &losingStore{s: NewMemoryStore()}
	m, err := NewMemoryReadModel("balances", balances)
	if err != nil {
		t.Fatal(err)
	}
	var behind atomic.Int32
	r, err := NewRunner(store, m, WithRetryBackoff(time.Millisecond, 10*time.Millisecond), WithOnError(func(err error) error {
		if errors.Is(err, ErrStoreBehind) {
			behind.Add(1)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	stop := runInBackground(t, r)
	for i := 0; i < 10; i++ {
		mustAppend(t, store, "a", AnyVersion, deposited(100))
	}
	if err := r.WaitFor(within(t, 5*time.Second), 10); err != nil {
		t.Fatal(err)
	}
	store.Lose()
	mustAppend(t, store, "b", AnyVersion, deposited(1), deposited(2), deposited(3))
	eventually(t, "the model holds exactly what the store holds", func() bool {
		got, _ := m.All(context.Background())
		return len(got) == 1 && got["b"] == 6
	})
	if behind.Load() == 0 {
		t.Error("ErrStoreBehind was not reported")
	}
	mustAppend(t, store, "b", AnyVersion, deposited(4))
	eventually(t, "the runner follows the new log", func() bool {
		got, _ := m.All(context.Background())
		return got["b"] == 10
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// A projection that cannot be rebuilt (FuncProjection) is held where it
// is, reporting ErrStoreBehind, rather than skipping the new events in
// silence; CatchUp says so too. Resetting its checkpoint lets it go on.
func TestRunnerHoldsAProjectionAheadOfItsStore(t *testing.T) {
	store := &losingStore{s: NewMemoryStore()}
	cps := NewMemoryCheckpointStore()
	var mu sync.Mutex
	var seen []int64
	p, err := NewFuncProjection("feed", cps, func(_ context.Context, e Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e.Position)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		mustAppend(t, store, "a", AnyVersion, deposited(1))
	}
	r, err := NewRunner(store, p)
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := r.CatchUp(context.Background()); err != nil || pos != 5 {
		t.Fatalf("CatchUp: %d, %v", pos, err)
	}
	store.Lose()
	mustAppend(t, store, "b", AnyVersion, deposited(1))
	if _, err := r.CatchUp(context.Background()); !errors.Is(err, ErrStoreBehind) {
		t.Fatalf("CatchUp over a store behind the checkpoint: %v, want ErrStoreBehind", err)
	}

	reports := make(chan error, 100)
	r, err = NewRunner(store, p, WithRetryBackoff(time.Millisecond, 5*time.Millisecond), WithOnError(func(err error) error {
		select {
		case reports <- err:
		default:
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	stop := runInBackground(t, r)
	select {
	case err := <-reports:
		if !errors.Is(err, ErrStoreBehind) {
			t.Fatalf("reported %v, want ErrStoreBehind", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing reported within 5s")
	}
	if err := cps.SaveCheckpoint(context.Background(), "feed", 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reset projection applies the new log", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 6 && seen[5] == 1
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
