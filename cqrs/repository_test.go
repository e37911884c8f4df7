package cqrs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

func newRepo(t testing.TB, s EventStore, opts ...RepositoryOption) *Repository[account] {
	t.Helper()
	r, err := NewRepository(s, evolveAccount, append([]RepositoryOption{WithStreamPrefix("acc-")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRepositoryExecute(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		r := newRepo(t, st.newStore())
		if v, err := r.Execute(ctx, "1", openAcc("ann")); err != nil || v != 1 {
			t.Fatalf("open: %d %v", v, err)
		}
		if v, err := r.Execute(ctx, "1", openAcc("ann")); err != nil || v != 1 {
			t.Fatalf("open again (no events): %d %v", v, err)
		}
		if v, err := r.Execute(ctx, "1", deposit(100)); err != nil || v != 2 {
			t.Fatalf("deposit: %d %v", v, err)
		}
		if v, err := r.Execute(ctx, "1", withdraw(30)); err != nil || v != 3 {
			t.Fatalf("withdraw: %d %v", v, err)
		}
		if v, err := r.Execute(ctx, "1", withdraw(71)); !errors.Is(err, errOverdraw) || v != 3 {
			t.Fatalf("overdraw: %d %v", v, err)
		}
		a, v, err := newRepo(t, st.newStore()).Load(ctx, "1")
		if err != nil || v != 3 || a != (account{Open: true, Owner: "ann", Balance: 70, Txns: 2}) {
			t.Fatalf("load: %+v %d %v", a, v, err)
		}
		if evs := mustLoad(t, st.newStore(), "acc-1", 1); len(evs) != 3 {
			t.Fatalf("stream acc-1 has %d events", len(evs))
		}
		a, v, err = r.Load(ctx, "nobody")
		if err != nil || v != 0 || a != (account{}) {
			t.Fatalf("load of a new aggregate: %+v %d %v", a, v, err)
		}
		if _, err := r.Execute(ctx, "nobody", deposit(1)); err == nil {
			t.Fatal("deposit to a missing account succeeded")
		}
		if _, err := r.Execute(ctx, "1", nil); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("nil decide: %v", err)
		}
	})
}

// TestRepositoryConflict: two commands decide on the same version; one
// appends, the other gets ErrConflict — or, with retries, decides again on
// the new state.
func TestRepositoryConflict(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		r := newRepo(t, st.newStore())
		if _, err := r.Execute(ctx, "c", openAcc("bob")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Execute(ctx, "c", deposit(10)); err != nil {
			t.Fatal(err)
		}
		// Both withdraw 10 from a balance of 10, having seen the same state.
		// The first two decisions wait for each other; retries pass.
		var loaded sync.WaitGroup
		var calls atomic.Int32
		loaded.Add(2)
		gated := func(n int) Decide[account] {
			return func(a account) ([]Event, error) {
				if calls.Add(1) <= 2 {
					loaded.Done()
					loaded.Wait()
				}
				return withdraw(n)(a)
			}
		}
		errs := make(chan error, 2)
		for i := 0; i < 2; i++ {
			go func() { _, err := r.Execute(ctx, "c", gated(10)); errs <- err }()
		}
		e1, e2 := <-errs, <-errs
		if (e1 == nil) == (e2 == nil) {
			t.Fatalf("want one winner: %v, %v", e1, e2)
		}
		var ce *ConflictError
		if err := errors.Join(e1, e2); !errors.As(err, &ce) || ce.Actual != 3 || ce.Expected != 2 {
			t.Fatalf("conflict: %v", err)
		}

		// With retries the loser reloads and decides again: 20 racing
		// deposits all land.
		rr := newRepo(t, st.newStore(), WithConflictRetries(1000))
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			s := st.newStore()
			r := newRepo(t, s, WithConflictRetries(1000))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := r.Execute(ctx, "c", deposit(1)); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		a, v, err := rr.Load(ctx, "c")
		if err != nil || a.Balance != 20 || v != 23 {
			t.Fatalf("after racing deposits: %+v v%d %v", a, v, err)
		}
		// A retry decides on the new state: the second withdrawal is refused.
		loaded.Add(2)
		calls.Store(0)
		for i := 0; i < 2; i++ {
			go func() { _, err := rr.Execute(ctx, "c", gated(15)); errs <- err }()
		}
		e1, e2 = <-errs, <-errs
		if !errors.Is(errors.Join(e1, e2), errOverdraw) || (e1 == nil) == (e2 == nil) {
			t.Fatalf("retried withdrawal: %v, %v", e1, e2)
		}
	})
}

// countingStore counts the events Load returns.
type countingStore struct {
	EventStore
	loaded atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, id string, from int64) ([]Event, error) {
	evs, err := c.EventStore.Load(ctx, id, from)
	c.loaded.Add(int64(len(evs)))
	return evs, err
}

// TestSnapshots: an aggregate loaded from its snapshot has the state of a
// full replay, and replays only the events after the snapshot.
func TestSnapshots(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		var snaps SnapshotStore = NewMemorySnapshotStore()
		if st.tg != nil {
			rs, err := NewRedisSnapshotStore(st.tg.Client, WithPrefix(st.tg.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			snaps = rs
		}
		cs := &countingStore{EventStore: st.newStore()}
		var snapErrs []error
		r := newRepo(t, cs, WithSnapshots(snaps, 10), WithSnapshotErrors(func(_ string, err error) { snapErrs = append(snapErrs, err) }))
		if _, err := r.Execute(ctx, "s", openAcc("cy")); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 24; i++ {
			dec := deposit(i)
			if i%4 == 0 {
				dec = withdraw(i / 2)
			}
			if _, err := r.Execute(ctx, "s", dec); err != nil {
				t.Fatal(err)
			}
		}
		snap, ok, err := snaps.LoadSnapshot(ctx, "acc-s")
		if err != nil || !ok || snap.Version != 20 || snap.Schema != 1 {
			t.Fatalf("snapshot: %+v %v %v", snap, ok, err)
		}
		full, fv, err := newRepo(t, st.newStore()).Load(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		cs.loaded.Store(0)
		got, v, err := r.Load(ctx, "s")
		if err != nil || got != full || v != fv || v != 25 {
			t.Fatalf("from snapshot %+v v%d, full replay %+v v%d (%v)", got, v, full, fv, err)
		}
		// The 5 events after it, and the one at its version (the check
		// that the stream reaches the snapshot).
		if n := cs.loaded.Load(); n != 6 {
			t.Fatalf("loaded %d events from the snapshot on, want 6", n)
		}
		// Another schema: ignored, full replay, same state.
		cs.loaded.Store(0)
		r2 := newRepo(t, cs, WithSnapshots(snaps, 10), WithSnapshotSchema(2))
		if got, _, _ := r2.Load(ctx, "s"); got != full || cs.loaded.Load() != 25 {
			t.Fatalf("other schema: %+v, replayed %d", got, cs.loaded.Load())
		}
		// The next command snapshots under the new schema.
		if _, err := r2.Execute(ctx, "s", deposit(1)); err != nil {
			t.Fatal(err)
		}
		if snap, _, _ := snaps.LoadSnapshot(ctx, "acc-s"); snap.Schema != 2 || snap.Version != 26 {
			t.Fatalf("re-snapshot: %+v", snap)
		}
		// An older snapshot never replaces a newer one.
		if err := snaps.SaveSnapshot(ctx, Snapshot{StreamID: "acc-s", Version: 3, Schema: 2, Data: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if snap, _, _ := snaps.LoadSnapshot(ctx, "acc-s"); snap.Version != 26 {
			t.Fatalf("older snapshot replaced a newer: %+v", snap)
		}
		// A snapshot that does not decode is reported and ignored.
		if err := snaps.SaveSnapshot(ctx, Snapshot{StreamID: "acc-s", Version: 99, Schema: 1, Data: []byte(`"not an account"`)}); err != nil {
			t.Fatal(err)
		}
		snapErrs = nil
		if got, v, err := r.Load(ctx, "s"); err != nil || v != 26 || got.Balance != full.Balance+1 || len(snapErrs) != 1 {
			t.Fatalf("bad snapshot: %+v v%d %v, reported %v", got, v, err, snapErrs)
		}
		if err := snaps.SaveSnapshot(ctx, Snapshot{StreamID: "x", Version: 0, Schema: 1, Data: []byte(`{}`)}); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("version 0 snapshot: %v", err)
		}
	})
}

// TestSnapshotAheadOfStream: a snapshot at a version its stream does not
// reach (the store wiped or re-created, a snapshot store shared between
// stores) is reported and ignored: the stream is replayed from 1, and
// commands do not conflict for ever.
func TestSnapshotAheadOfStream(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	ss := NewMemorySnapshotStore()
	ahead := Snapshot{StreamID: "acc-a", Version: 5, Schema: 1, Data: []byte(`{"open":true,"balance":500}`)}
	if err := ss.SaveSnapshot(ctx, ahead); err != nil {
		t.Fatal(err)
	}
	var reported []error
	r := newRepo(t, s, WithSnapshots(ss, 100), WithSnapshotErrors(func(_ string, err error) { reported = append(reported, err) }))
	if st, v, err := r.Load(ctx, "a"); err != nil || v != 0 || st != (account{}) || len(reported) != 1 {
		t.Fatalf("load of an empty stream with a snapshot at 5: %+v v%d %v, reported %v", st, v, err, reported)
	}
	if _, err := r.Execute(ctx, "a", openAcc("ann")); err != nil {
		t.Fatal(err)
	}
	if v, err := r.Execute(ctx, "a", deposit(7)); err != nil || v != 2 {
		t.Fatalf("execute on a stream at 1 with a snapshot at 5: v%d %v", v, err)
	}
	if st, v, err := r.Load(ctx, "a"); err != nil || v != 2 || st.Balance != 7 || st.Owner != "ann" {
		t.Fatalf("state %+v v%d %v, want ann's account with 7 at version 2", st, v, err)
	}
}

func TestRedisSnapshotTTL(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	ctx := context.Background()
	ss, err := NewRedisSnapshotStore(tg.Client, WithPrefix(tg.Prefix), WithSnapshotTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.SaveSnapshot(ctx, Snapshot{StreamID: "a", Version: 1, Schema: 1, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	tg.Advance(59 * time.Minute)
	if err := ss.SaveSnapshot(ctx, Snapshot{StreamID: "a", Version: 1, Schema: 1, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	tg.Advance(59 * time.Minute)
	if _, ok, _ := ss.LoadSnapshot(ctx, "a"); !ok {
		t.Fatal("a snapshot saved again expired")
	}
	tg.Advance(2 * time.Minute)
	if _, ok, _ := ss.LoadSnapshot(ctx, "a"); ok {
		t.Fatal("snapshot outlived its TTL")
	}
}

func TestRepositoryConfig(t *testing.T) {
	s := NewMemoryStore()
	bad := []struct {
		name string
		err  error
	}{
		{"nil store", func() error { _, err := NewRepository[account](nil, evolveAccount); return err }()},
		{"nil evolve", func() error { _, err := NewRepository[account](s, nil); return err }()},
		{"nil option", func() error { _, err := NewRepository(s, evolveAccount, nil); return err }()},
		{"negative retries", func() error { _, err := NewRepository(s, evolveAccount, WithConflictRetries(-1)); return err }()},
		{"nil snapshots", func() error { _, err := NewRepository(s, evolveAccount, WithSnapshots(nil, 5)); return err }()},
		{"snapshot every 0", func() error {
			_, err := NewRepository(s, evolveAccount, WithSnapshots(NewMemorySnapshotStore(), 0))
			return err
		}()},
		{"snapshot schema 0", func() error { _, err := NewRepository(s, evolveAccount, WithSnapshotSchema(0)); return err }()},
		{"nil snapshot errors", func() error { _, err := NewRepository(s, evolveAccount, WithSnapshotErrors(nil)); return err }()},
	}
	for _, b := range bad {
		if !errors.Is(b.err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", b.name, b.err)
		}
	}
}
