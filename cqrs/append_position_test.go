package cqrs

import (
	"context"
	"errors"
	"testing"
	"time"
)

// positionAt is the global position of the stream's event at version v.
func positionAt(t *testing.T, s EventStore, stream string, v int64) int64 {
	t.Helper()
	evs := mustLoad(t, s, stream, v)
	if len(evs) == 0 || evs[0].Version != v {
		t.Fatalf("%s has no event %d", stream, v)
	}
	return evs[0].Position
}

// plainStore hides a store's optional interfaces but EventStore's.
type plainStore struct{ EventStore }

// TestAppendWithPosition: the position returned is the global position
// of the stream's event at the version returned, for an append, an exact
// retry, an append of nothing, and a missing stream; on a store without
// PositionAppender too (read back), and through an UpcastingStore.
func TestAppendWithPosition(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		base := st.newStore()
		up, err := NewUpcastingStore(base, NewUpcasters())
		if err != nil {
			t.Fatal(err)
		}
		for name, s := range map[string]EventStore{"store": base, "plain": plainStore{base}, "upcasting": up} {
			stream := "pos-" + name
			mustAppend(t, s, "other-"+name, NoStream, ev("X", nil)) // positions differ from versions
			a, err := AppendWithPosition(ctx, s, stream, NoStream, ev("A", nil).WithID(name+"1"), ev("B", nil).WithID(name+"2"))
			if err != nil || a.Version != 2 || a.Position != positionAt(t, s, stream, 2) {
				t.Fatalf("%s: append: %+v %v", name, a, err)
			}
			again, err := AppendWithPosition(ctx, s, stream, NoStream, ev("A", nil).WithID(name+"1"), ev("B", nil).WithID(name+"2"))
			if err != nil || again != a {
				t.Fatalf("%s: exact retry: %+v %v, want %+v", name, again, err, a)
			}
			mustAppend(t, s, "other-"+name, AnyVersion, ev("X", nil))
			none, err := AppendWithPosition(ctx, s, stream, AnyVersion)
			if err != nil || none != a {
				t.Fatalf("%s: no events: %+v %v, want %+v", name, none, err, a)
			}
			missing, err := AppendWithPosition(ctx, s, "nothing-"+name, NoStream)
			if err != nil || missing != (Appended{}) {
				t.Fatalf("%s: missing stream: %+v %v", name, missing, err)
			}
			if _, err := AppendWithPosition(ctx, s, stream, 1, ev("C", nil)); !errors.Is(err, ErrConflict) {
				t.Fatalf("%s: stale version: %v", name, err)
			}
		}
	})
}

// TestExecuteWithPositionReadYourWrites: waiting for the position a
// command returns is enough to read its effect from a projection, on
// memory and on Redis; a command that appends nothing returns the
// position of the state it saw.
func TestExecuteWithPositionReadYourWrites(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s := st.newStore()
		model, err := NewMemoryReadModel("balances", balances)
		if err != nil {
			t.Fatal(err)
		}
		runner, err := NewRunner(s, model)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- runner.Run(runCtx) }()
		defer func() { stop(); <-done }()

		r := newRepo(t, s)
		for _, id := range []string{"a", "b"} {
			if _, err := r.ExecuteWithPosition(ctx, id, openAcc(id)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 1; i <= 5; i++ {
			a, err := r.ExecuteWithPosition(ctx, "a", deposit(10))
			if err != nil || a.Version != int64(i+1) || a.Position != positionAt(t, s, "acc-a", a.Version) {
				t.Fatalf("deposit %d: %+v %v", i, a, err)
			}
			if err := runner.WaitFor(ctx, a.Position); err != nil {
				t.Fatal(err)
			}
			if b, _, err := model.Get(ctx, "acc-a"); err != nil || b != 10*i {
				t.Fatalf("after deposit %d: balance %d %v", i, b, err)
			}
		}
		seen, err := r.ExecuteWithPosition(ctx, "a", openAcc("a")) // nothing to do
		if err != nil || seen.Version != 6 || seen.Position != positionAt(t, s, "acc-a", 6) {
			t.Fatalf("no-op command: %+v %v", seen, err)
		}
		refused, err := r.ExecuteWithPosition(ctx, "b", withdraw(1))
		if !errors.Is(err, errOverdraw) || refused.Version != 1 || refused.Position != positionAt(t, s, "acc-b", 1) {
			t.Fatalf("refused command: %+v %v", refused, err)
		}
	})
}
