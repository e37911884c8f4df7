package cqrs

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// kvModel is what MemoryReadModel and RedisReadModel have in common.
type kvModel[V any] interface {
	Rebuilder
	Get(ctx context.Context, key string) (V, bool, error)
	All(ctx context.Context) (map[string]V, error)
}

// modelTarget is a store and a way to open read models on it. newModel
// returns a handle on the named model: for Redis a new one each time, with
// a client of its own (another process); for memory the same model for
// the same name.
type modelTarget[V any] struct {
	store    EventStore
	newModel func(name string, h ModelHandler[V]) kvModel[V]
	tg       *redistest.Target
}

func eachModel[V any](t *testing.T, fn func(t *testing.T, mt modelTarget[V])) {
	t.Run("memory", func(t *testing.T) {
		models := map[string]kvModel[V]{}
		fn(t, modelTarget[V]{store: NewMemoryStore(), newModel: func(name string, h ModelHandler[V]) kvModel[V] {
			if m, ok := models[name]; ok {
				return m
			}
			m, err := NewMemoryReadModel(name, h)
			if err != nil {
				t.Fatal(err)
			}
			models[name] = m
			return m
		}})
	})
	t.Run("redis", func(t *testing.T) {
		redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
			s, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix), WithBlock(10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			fn(t, modelTarget[V]{store: s, tg: tg, newModel: func(name string, h ModelHandler[V]) kvModel[V] {
				c, _ := tg.NewClient()
				m, err := NewRedisReadModel(c, name, h, WithPrefix(tg.Prefix))
				if err != nil {
					t.Fatal(err)
				}
				return m
			}})
		})
	})
}

// seedBank appends n random bank operations over k accounts and returns
// the balances they leave.
func seedBank(t testing.TB, s EventStore, rnd *rand.Rand, n, k int) map[string]int {
	t.Helper()
	want := map[string]int{}
	for i := 0; i < n; i++ {
		acc := fmt.Sprint("acc-", rnd.Intn(k))
		amt := 1 + rnd.Intn(100)
		e := deposited(amt)
		if rnd.Intn(3) == 0 {
			e = ev("Withdrawn", amount{amt})
			amt = -amt
		}
		batch := []Event{e}
		if rnd.Intn(10) == 0 {
			batch = append(batch, deposited(1), ev("Noted", nil))
			amt++
		}
		mustAppend(t, s, acc, AnyVersion, batch...)
		want[acc] += amt
	}
	return want
}

func head(t testing.TB, s EventStore) int64 {
	t.Helper()
	h, err := s.(Header).Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func within(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func runInBackground(t testing.TB, r *Runner) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not stop after its ctx was cancelled")
			return nil
		}
	}
}

func assertModel[V any](t testing.TB, m kvModel[V], want map[string]V) {
	t.Helper()
	got, err := m.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("model %s:\n got  %v\n want %v", m.Name(), got, want)
	}
}

// TestRunnerCatchesUpAndFollows: a runner applies the existing log, then
// new events as they are appended, and stops cleanly on cancel. A runner
// started again later catches up with what it missed while down.
func TestRunnerCatchesUpAndFollows(t *testing.T) {
	eachModel(t, func(t *testing.T, mt modelTarget[int]) {
		rnd := rand.New(rand.NewSource(1))
		want := seedBank(t, mt.store, rnd, 60, 7)
		m := mt.newModel("balances", balances)
		r, err := NewRunner(mt.store, m, WithBatchSize(7))
		if err != nil {
			t.Fatal(err)
		}
		stop := runInBackground(t, r)
		if err := r.WaitFor(within(t, 10*time.Second), head(t, mt.store)); err != nil {
			t.Fatal(err)
		}
		assertModel(t, m, want)
		for acc, n := range seedBank(t, mt.store, rnd, 25, 9) {
			want[acc] += n
		}
		if err := r.WaitFor(within(t, 10*time.Second), head(t, mt.store)); err != nil {
			t.Fatal(err)
		}
		assertModel(t, m, want)
		if v, ok, err := m.Get(context.Background(), "acc-3"); err != nil || !ok || v != want["acc-3"] {
			t.Fatalf("get: %d %v %v", v, ok, err)
		}
		if _, ok, err := m.Get(context.Background(), "nobody"); ok || err != nil {
			t.Fatalf("get of a missing key: %v %v", ok, err)
		}
		if err := stop(); err != nil {
			t.Fatalf("Run returned %v after cancel", err)
		}
		if lag, err := r.Lag(context.Background()); err != nil || lag != 0 {
			t.Fatalf("lag %d %v", lag, err)
		}

		// Down while 30 more operations happen; a new runner (and, on Redis,
		// a new process) catches up from the stored checkpoint.
		for acc, n := range seedBank(t, mt.store, rnd, 30, 9) {
			want[acc] += n
		}
		m2 := mt.newModel("balances", balances)
		cp, _ := m2.Checkpoint(context.Background())
		if cp != r.Position() || cp == 0 {
			t.Fatalf("stored checkpoint %d, runner was at %d", cp, r.Position())
		}
		r2, _ := NewRunner(mt.store, m2)
		if lag, err := r2.Lag(context.Background()); err != nil || lag != head(t, mt.store) {
			t.Fatalf("lag before start: %d %v", lag, err) // the runner has not read the checkpoint yet
		}
		got, err := r2.CatchUp(context.Background())
		if err != nil || got != head(t, mt.store) {
			t.Fatalf("catch up: %d %v", got, err)
		}
		assertModel(t, m2, want)
	})
}

// TestProjectionKilledAtRandomPoints: a projection stopped at random
// points — mid-batch, between batches, by a cancelled context or (on
// Redis) a lost connection — and resumed each time ends equal to one
// built in a single pass.
func TestProjectionKilledAtRandomPoints(t *testing.T) {
	eachModel(t, func(t *testing.T, mt modelTarget[[]string]) {
		rnd := rand.New(rand.NewSource(2))
		seedBank(t, mt.store, rnd, 150, 6)
		end := head(t, mt.store)

		single := mt.newModel("single", history)
		r, _ := NewRunner(mt.store, single, WithBatchSize(1000))
		if _, err := r.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		want, _ := single.All(context.Background())

		var kill atomic.Int64 // events until the next kill
		var killNow func()
		var killed atomic.Bool
		killing := func(ctx context.Context, tx *Tx[[]string], e Event) error {
			if kill.Add(-1) == 0 {
				killed.Store(true)
				killNow()
			}
			return history(ctx, tx, e)
		}
		kills := 0
		for round := 0; ; round++ {
			if round > 500 {
				t.Fatal("no progress")
			}
			m := mt.newModel("killed", killing) // a new process each round
			cp, err := m.Checkpoint(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if cp == end {
				break
			}
			ctx, cancel := context.WithCancel(context.Background())
			kill.Store(1 + rnd.Int63n(25))
			killed.Store(false)
			var faults *redistest.Faults
			opts := []RunnerOption{WithBatchSize(1 + rnd.Intn(16)), WithOnError(func(err error) error { cancel(); return err })}
			if mt.tg != nil && rnd.Intn(4) == 0 {
				// Lose Redis instead: the commit of this batch fails.
				cl, f := mt.tg.NewClient()
				faults = f
				m, err = NewRedisReadModel(cl, "killed", killing, WithPrefix(mt.tg.Prefix), WithTimeout(time.Second))
				if err != nil {
					t.Fatal(err)
				}
				killNow = f.Cut
			} else {
				killNow = cancel
			}
			r, _ := NewRunner(mt.store, m, opts...)
			go func() { // no kill before the end: stop there
				if r.WaitFor(ctx, end) == nil {
					cancel()
				}
			}()
			err = r.Run(ctx)
			cancel()
			if faults != nil {
				faults.Heal()
			}
			if faults != nil && killed.Load() && err == nil {
				t.Fatal("Run returned nil after losing Redis; want the error WithOnError returned")
			}
			kills++
		}
		if kills < 5 {
			t.Fatalf("only %d kills", kills)
		}
		m := mt.newModel("killed", history)
		assertModel(t, m, want)
	})
}

// TestRebuildEqualsLive: a rebuild, run while a live runner follows
// appends, swaps in a copy equal to the live model; a rebuild with a
// changed handler swaps in the new view of the whole history.
func TestRebuildEqualsLive(t *testing.T) {
	eachModel(t, func(t *testing.T, mt modelTarget[int]) {
		rnd := rand.New(rand.NewSource(3))
		want := seedBank(t, mt.store, rnd, 80, 5)
		var factor atomic.Int64
		factor.Store(1)
		scaled := scaledBalances(func() int { return int(factor.Load()) })
		live := mt.newModel("live", scaled)
		r, _ := NewRunner(mt.store, live, WithBatchSize(5))
		stop := runInBackground(t, r)

		// Appends, a live runner and a rebuild, all at once.
		var wg sync.WaitGroup
		var more map[string]int
		wg.Add(1)
		go func() {
			defer wg.Done()
			more = seedBank(t, mt.store, rand.New(rand.NewSource(4)), 60, 8)
		}()
		rebuilder := mt.newModel("live", scaled)
		rr, _ := NewRunner(mt.store, rebuilder, WithBatchSize(9))
		for i := 0; i < 3; i++ {
			if err := rr.Rebuild(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		wg.Wait()
		for acc, n := range more {
			want[acc] += n
		}
		if err := r.WaitFor(within(t, 10*time.Second), head(t, mt.store)); err != nil {
			t.Fatal(err)
		}
		// WaitFor sees the runner's position; after a swap the runner may
		// have reread an older checkpoint and be catching up again.
		deadline := time.Now().Add(10 * time.Second)
		for cp, _ := live.Checkpoint(context.Background()); cp != head(t, mt.store); cp, _ = live.Checkpoint(context.Background()) {
			if time.Now().After(deadline) {
				t.Fatalf("live model stuck at %d", cp)
			}
			if err := r.WaitFor(within(t, 10*time.Second), r.Position()+1); err != nil && r.Position() < head(t, mt.store) {
				t.Fatal(err)
			}
		}
		assertModel(t, live, want)

		// The handler changes: a rebuild shows every event the new way.
		factor.Store(10)
		if err := rr.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		for acc := range want {
			want[acc] *= 10
		}
		assertModel(t, rebuilder, want)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestTwoRunnersExactlyOnce: two runners (processes) on one read model:
// each batch takes effect once.
func TestTwoRunnersExactlyOnce(t *testing.T) {
	eachModel(t, func(t *testing.T, mt modelTarget[int]) {
		want := seedBank(t, mt.store, rand.New(rand.NewSource(5)), 120, 4)
		var stops []func() error
		var runners []*Runner
		for i := 0; i < 2; i++ {
			r, _ := NewRunner(mt.store, mt.newModel("twice", balances), WithBatchSize(3), WithRetryBackoff(100*time.Microsecond, time.Millisecond))
			runners = append(runners, r)
			stops = append(stops, runInBackground(t, r))
		}
		end := head(t, mt.store)
		m := mt.newModel("twice", balances)
		for cp, _ := m.Checkpoint(context.Background()); cp < end; cp, _ = m.Checkpoint(context.Background()) {
			if err := runners[0].WaitFor(within(t, 10*time.Second), cp+1); err != nil {
				if err := runners[1].WaitFor(within(t, 10*time.Second), cp+1); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, stop := range stops {
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		}
		assertModel(t, m, want)
	})
}

// hiddenWaiter hides a store's Waiter, so runners poll it.
type hiddenWaiter struct{ s EventStore }

func (h hiddenWaiter) Append(ctx context.Context, id string, exp int64, evs ...Event) (int64, error) {
	return h.s.Append(ctx, id, exp, evs...)
}
func (h hiddenWaiter) Load(ctx context.Context, id string, from int64) ([]Event, error) {
	return h.s.Load(ctx, id, from)
}
func (h hiddenWaiter) ReadAll(ctx context.Context, from int64, limit int) ([]Event, error) {
	return h.s.ReadAll(ctx, from, limit)
}

func TestRunnerPollsStoresWithoutWaiter(t *testing.T) {
	s := NewMemoryStore()
	m, _ := NewMemoryReadModel("polled", balances)
	r, err := NewRunner(hiddenWaiter{s}, m, WithPollInterval(2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if r.waiter != nil {
		t.Fatal("found a waiter")
	}
	stop := runInBackground(t, r)
	mustAppend(t, s, "a", AnyVersion, deposited(5))
	if err := r.WaitFor(within(t, 5*time.Second), 1); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, "a", AnyVersion, deposited(6))
	if err := r.WaitFor(within(t, 5*time.Second), 2); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	assertModel[int](t, m, map[string]int{"a": 11})
	if _, err := r.Lag(context.Background()); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("lag without a Header: %v", err)
	}
	// Through an UpcastingStore, the runner finds the Waiter underneath.
	us, _ := NewUpcastingStore(s, NewUpcasters())
	r2, _ := NewRunner(us, m)
	if r2.waiter == nil {
		t.Fatal("no waiter found through UpcastingStore")
	}
}

// TestRunnerErrors: a failing projection is retried with backoff, or
// stops Run when WithOnError says so; nothing of a failed batch is kept.
func TestRunnerErrors(t *testing.T) {
	ctx := context.Background()
	s := NewMemoryStore()
	for i := 1; i <= 10; i++ {
		mustAppend(t, s, "a", AnyVersion, deposited(i))
	}
	poison := errors.New("poison")
	var failures atomic.Int64
	failures.Store(3)
	h := func(ctx context.Context, tx *Tx[int], e Event) error {
		if e.Position == 6 && failures.Add(-1) >= 0 {
			return poison
		}
		return balances(ctx, tx, e)
	}
	m, _ := NewMemoryReadModel("flaky", h)
	var seen []error
	stopErr := errors.New("stop")
	r, _ := NewRunner(s, m, WithBatchSize(4), WithOnError(func(err error) error {
		seen = append(seen, err)
		if len(seen) == 2 {
			return stopErr
		}
		return nil
	}), WithRetryBackoff(time.Millisecond, 2*time.Millisecond))
	if err := r.Run(ctx); !errors.Is(err, stopErr) {
		t.Fatalf("Run: %v", err)
	}
	if len(seen) != 2 || !errors.Is(seen[0], poison) {
		t.Fatalf("errors seen: %v", seen)
	}
	if cp, _ := m.Checkpoint(ctx); cp != 4 {
		t.Fatalf("checkpoint %d after a failed batch, want 4", cp)
	}
	assertModel[int](t, m, map[string]int{"a": 1 + 2 + 3 + 4})
	// Retried until it passes (the third failure, then success).
	r2, _ := NewRunner(s, m, WithBatchSize(4), WithRetryBackoff(time.Millisecond, 2*time.Millisecond))
	stop := runInBackground(t, r2)
	if err := r2.WaitFor(within(t, 5*time.Second), 10); err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	assertModel[int](t, m, map[string]int{"a": 55})
	// CatchUp returns the first error.
	m3, _ := NewMemoryReadModel("flaky3", func(context.Context, *Tx[int], Event) error { return poison })
	r3, _ := NewRunner(s, m3)
	if _, err := r3.CatchUp(ctx); !errors.Is(err, poison) {
		t.Fatalf("catch up: %v", err)
	}
}

// failingStore fails every read of the global order.
type failingStore struct{ EventStore }

func (failingStore) ReadAll(context.Context, int64, int) ([]Event, error) {
	return nil, errors.New("store down")
}

// TestRunnerBacksOff: a failing store is retried with a pause that starts
// at WithRetryBackoff's min and doubles, not in a busy loop (a zero min,
// which would never grow, is refused: TestRunnerMisuse).
func TestRunnerBacksOff(t *testing.T) {
	m, _ := NewMemoryReadModel("backoff", balances)
	var n atomic.Int64
	r, err := NewRunner(failingStore{NewMemoryStore()}, m, WithRetryBackoff(time.Millisecond, time.Second),
		WithOnError(func(error) error { n.Add(1); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// 1+2+4+8+16+32ms: at most 6 retries fit in 50ms.
	if got := n.Load(); got < 1 || got > 8 {
		t.Fatalf("%d retries in 50ms with WithRetryBackoff(1ms, 1s)", got)
	}
}

func TestRunnerMisuse(t *testing.T) {
	s := NewMemoryStore()
	m, _ := NewMemoryReadModel("m", balances)
	for _, o := range []RunnerOption{WithBatchSize(0), WithBatchSize(10001), WithPollInterval(0), WithRetryBackoff(2, 1), WithRetryBackoff(0, 0), WithRetryBackoff(0, time.Second), WithRetryBackoff(-1, time.Second), WithOnError(nil), nil} {
		if _, err := NewRunner(s, m, o); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("option accepted: %v", err)
		}
	}
	if _, err := NewRunner(nil, m); !errors.Is(err, ErrInvalidConfig) {
		t.Error(err)
	}
	r, _ := NewRunner(s, m)
	stop := runInBackground(t, r)
	for !r.running.Load() {
		time.Sleep(time.Millisecond)
	}
	if err := r.Run(context.Background()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("second Run: %v", err)
	}
	if _, err := r.CatchUp(context.Background()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("CatchUp while running: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	fp, _ := NewFuncProjection("f", NewMemoryCheckpointStore(), func(context.Context, Event) error { return nil })
	rf, _ := NewRunner(s, fp)
	if err := rf.Rebuild(context.Background()); !errors.Is(err, ErrNotRebuildable) {
		t.Errorf("rebuild of a FuncProjection: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.WaitFor(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor: %v", err)
	}
	for _, bad := range []func() error{
		func() error { _, err := NewMemoryReadModel[int]("", balances); return err },
		func() error { _, err := NewMemoryReadModel[int]("x", nil); return err },
		func() error { _, err := NewFuncProjection("", NewMemoryCheckpointStore(), nil); return err },
		func() error {
			_, err := NewFuncProjection("x", nil, func(context.Context, Event) error { return nil })
			return err
		},
	} {
		if err := bad(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("accepted: %v", err)
		}
	}
}

// TestFuncProjection: at least once — the checkpoint follows the events
// the function handled, a failure keeps what came before it, and a
// restart carries on after the checkpoint.
func TestFuncProjection(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		s := st.newStore()
		for i := 1; i <= 9; i++ {
			mustAppend(t, s, fmt.Sprint("f", i%2), AnyVersion, deposited(i))
		}
		var cps CheckpointStore = NewMemoryCheckpointStore()
		if st.tg != nil {
			rc, err := NewRedisCheckpointStore(st.tg.Client, WithPrefix(st.tg.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			cps = rc
		}
		var mu sync.Mutex
		seen := map[int64]int{} // position -> times handled
		failAt := int64(7)
		fn := func(_ context.Context, e Event) error {
			mu.Lock()
			defer mu.Unlock()
			if e.Position == failAt {
				return errors.New("down")
			}
			seen[e.Position]++
			return nil
		}
		p, err := NewFuncProjection("f", cps, fn)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := NewRunner(s, p, WithBatchSize(4))
		if _, err := r.CatchUp(ctx); err == nil {
			t.Fatal("no error")
		}
		if cp, _ := cps.LoadCheckpoint(ctx, "f"); cp != 6 {
			t.Fatalf("checkpoint %d, want 6", cp)
		}
		failAt = 0
		if got, err := r.CatchUp(ctx); err != nil || got != 9 {
			t.Fatalf("catch up: %d %v", got, err)
		}
		for pos := int64(1); pos <= 9; pos++ {
			if seen[pos] != 1 {
				t.Errorf("position %d handled %d times", pos, seen[pos])
			}
		}
		// Events before the checkpoint are skipped, a gap is refused.
		evs, _ := s.ReadAll(ctx, 1, 9)
		if err := p.Apply(ctx, evs); err != nil || seen[1] != 1 {
			t.Fatalf("reapply: %v, position 1 handled %d times", err, seen[1])
		}
		mustAppend(t, s, "f1", AnyVersion, deposited(1), deposited(2))
		evs, _ = s.ReadAll(ctx, 11, 1)
		if err := p.Apply(ctx, evs); !errors.Is(err, ErrCheckpointMoved) {
			t.Fatalf("gap: %v", err)
		}
		if rc, ok := cps.(*RedisCheckpointStore); ok {
			if err := rc.DeleteCheckpoint(ctx, "f"); err != nil {
				t.Fatal(err)
			}
			if cp, _ := rc.LoadCheckpoint(ctx, "f"); cp != 0 {
				t.Fatalf("deleted checkpoint %d", cp)
			}
		}
	})
}

// TestBuildSuperseded: a second rebuild supersedes the first; a
// superseded or finished build cannot write or swap.
func TestBuildSuperseded(t *testing.T) {
	eachModel(t, func(t *testing.T, mt modelTarget[int]) {
		ctx := context.Background()
		mustAppend(t, mt.store, "a", AnyVersion, deposited(1), deposited(2))
		evs, _ := mt.store.ReadAll(ctx, 1, 10)
		m := mt.newModel("sup", balances)
		b1, err := m.NewBuild(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := b1.Apply(ctx, evs[:1]); err != nil {
			t.Fatal(err)
		}
		b2, _ := m.NewBuild(ctx)
		if err := b1.Apply(ctx, evs[1:]); !errors.Is(err, ErrCheckpointMoved) {
			t.Fatalf("superseded apply: %v", err)
		}
		if err := b1.Swap(ctx); !errors.Is(err, ErrCheckpointMoved) {
			t.Fatalf("superseded swap: %v", err)
		}
		if cp, _ := b2.Checkpoint(ctx); cp != 0 {
			t.Fatalf("new build at %d", cp)
		}
		if err := b2.Apply(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if err := b2.Swap(ctx); err != nil {
			t.Fatal(err)
		}
		if err := b2.Swap(ctx); !errors.Is(err, ErrCheckpointMoved) {
			t.Fatalf("second swap: %v", err)
		}
		assertModel(t, m, map[string]int{"a": 3})
		if cp, _ := m.Checkpoint(ctx); cp != 2 {
			t.Fatalf("checkpoint after swap %d", cp)
		}
		b3, _ := m.NewBuild(ctx)
		if err := b3.Discard(ctx); err != nil {
			t.Fatal(err)
		}
		assertModel(t, m, map[string]int{"a": 3})
	})
}

// TestRedisReadModelKeys: a model's keys start with the prefix and share
// one hash slot; Drop removes them all.
func TestRedisReadModelKeys(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		s, _ := NewRedisStore(tg.Client, WithPrefix(tg.Prefix))
		mustAppend(t, s, "k", AnyVersion, deposited(4))
		m, err := NewRedisReadModel(tg.Client, "bal", balances, WithPrefix(tg.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := NewRunner(s, m)
		if _, err := r.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		b, _ := m.NewBuild(ctx)
		evs, _ := s.ReadAll(ctx, 1, 1)
		if err := b.Apply(ctx, evs); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{m.metaKey(), m.dataKey(), m.buildKey()} {
			if want := tg.Prefix + "{" + tg.Prefix[:len(tg.Prefix)-1] + ":rm:bal}:"; k[:len(want)] != want {
				t.Errorf("key %q, want prefix %q", k, want)
			}
			if n := tg.Client.Exists(ctx, k).Val(); n != 1 {
				t.Errorf("key %q missing", k)
			}
			if ttl := tg.Client.PTTL(ctx, k).Val(); ttl > 0 {
				t.Errorf("key %q has a TTL %v", k, ttl)
			}
		}
		if err := m.Drop(ctx); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{m.metaKey(), m.dataKey(), m.buildKey()} {
			if n := tg.Client.Exists(ctx, k).Val(); n != 0 {
				t.Errorf("key %q left after Drop", k)
			}
		}
		for _, bad := range []string{"", "a{b", "c}"} {
			if _, err := NewRedisReadModel(tg.Client, bad, balances); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("name %q: %v", bad, err)
			}
		}
	})
}

// appendOnEmpty runs fn the first time ReadAll finds nothing new: an
// append that lands between a rebuild's last read and its swap.
type appendOnEmpty struct {
	EventStore
	once sync.Once
	fn   func()
}

func (a *appendOnEmpty) ReadAll(ctx context.Context, from int64, limit int) ([]Event, error) {
	evs, err := a.EventStore.ReadAll(ctx, from, limit)
	if err == nil && len(evs) == 0 {
		a.once.Do(a.fn)
	}
	return evs, err
}

// TestRebuildLeavesNoHole: an event appended after the rebuild's last
// read, which the (then idle) live runner applied to the old copy, is in
// the new copy when Rebuild returns.
func TestRebuildLeavesNoHole(t *testing.T) {
	eachModel(t, func(t *testing.T, mt modelTarget[int]) {
		want := seedBank(t, mt.store, rand.New(rand.NewSource(6)), 20, 3)
		live := mt.newModel("hole", balances)
		r, _ := NewRunner(mt.store, live)
		stop := runInBackground(t, r)
		defer func() {
			if err := stop(); err != nil {
				t.Error(err)
			}
		}()
		if err := r.WaitFor(within(t, 10*time.Second), head(t, mt.store)); err != nil {
			t.Fatal(err)
		}
		late := &appendOnEmpty{EventStore: mt.store, fn: func() {
			mustAppend(t, mt.store, "acc-0", AnyVersion, deposited(1000))
			if err := r.WaitFor(within(t, 10*time.Second), head(t, mt.store)); err != nil {
				t.Error(err)
			}
		}}
		want["acc-0"] += 1000
		rr, _ := NewRunner(late, mt.newModel("hole", balances))
		if err := rr.Rebuild(context.Background()); err != nil {
			t.Fatal(err)
		}
		assertModel(t, live, want)
		if cp, _ := live.Checkpoint(context.Background()); cp != head(t, mt.store) {
			t.Fatalf("checkpoint %d, head %d", cp, head(t, mt.store))
		}
	})
}

// swapRace drives a rebuild through the window where a live batch races
// the swap: when the rebuild first finds the log's end (just before it
// swaps), beforeSwap runs; at the next read (the catch-up after the
// swap), afterSwap runs.
type swapRace struct {
	EventStore
	state      int
	beforeSwap func()
	afterSwap  func()
}

func (s *swapRace) ReadAll(ctx context.Context, from int64, limit int) ([]Event, error) {
	if s.state == 1 {
		s.state = 2
		s.afterSwap()
	}
	evs, err := s.EventStore.ReadAll(ctx, from, limit)
	if err == nil && len(evs) == 0 && s.state == 0 {
		s.state = 1
		s.beforeSwap()
	}
	return evs, err
}

type pauseKey struct{}

// TestRebuildSwapRejectsLiveBatchFromOldCopy: the handler's logic changes
// and a rebuild swaps in a copy at the same checkpoint as the live one
// (ABA). A live batch that read its values from the old copy before the
// swap must not commit into the new copy (ErrCheckpointMoved); the
// rebuild's catch-up applies its events the new way.
func TestRebuildSwapRejectsLiveBatchFromOldCopy(t *testing.T) {
	eachModel(t, func(t *testing.T, mt modelTarget[int]) {
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			mustAppend(t, mt.store, "acc", AnyVersion, deposited(1))
		}
		var factor atomic.Int64
		factor.Store(1) // the old deployment's logic
		read, release := make(chan struct{}), make(chan struct{})
		h := func(ctx context.Context, tx *Tx[int], e Event) error {
			var a amount
			if err := e.Decode(&a); err != nil {
				return err
			}
			v, _, err := tx.Get(ctx, e.StreamID)
			if err != nil {
				return err
			}
			if ctx.Value(pauseKey{}) != nil { // the live batch: hold it after its read
				close(read)
				<-release
			}
			tx.Put(e.StreamID, v+int(factor.Load())*a.Amount)
			return nil
		}
		r1, _ := NewRunner(mt.store, mt.newModel("aba", h))
		if _, err := r1.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}

		factor.Store(100) // the new logic, and a rebuild for it
		m := mt.newModel("aba", h)
		liveErr := make(chan error, 1)
		race := &swapRace{EventStore: mt.store}
		race.beforeSwap = func() {
			mustAppend(t, mt.store, "acc", AnyVersion, deposited(1))
			evs, err := mt.store.ReadAll(ctx, 4, 10)
			if err != nil {
				t.Error(err)
			}
			go func() { liveErr <- m.Apply(context.WithValue(ctx, pauseKey{}, true), evs) }()
			<-read // the live batch has read acc from the old copy
		}
		race.afterSwap = func() {
			close(release)
			if err := <-liveErr; !errors.Is(err, ErrCheckpointMoved) {
				t.Errorf("live batch read from the old copy, committed after the swap: %v, want ErrCheckpointMoved", err)
			}
		}
		rr, _ := NewRunner(race, m)
		if err := rr.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if race.state != 2 {
			t.Fatal("the race was not staged")
		}
		assertModel(t, m, map[string]int{"acc": 400})
		if cp, _ := m.Checkpoint(ctx); cp != 4 {
			t.Fatalf("checkpoint %d, want 4", cp)
		}
	})
}

// busyStore is a MemoryStore (a Header) that another writer appends to
// every time the log is read, up to a cap: steady appends.
type busyStore struct {
	*MemoryStore
	reads atomic.Int64
}

func (s *busyStore) ReadAll(ctx context.Context, from int64, limit int) ([]Event, error) {
	if s.reads.Add(1) < 5000 {
		if _, err := s.MemoryStore.Append(ctx, "busy", AnyVersion, deposited(1)); err != nil {
			return nil, err
		}
	}
	return s.MemoryStore.ReadAll(ctx, from, limit)
}

// TestCatchUpStopsAtHead: CatchUp stops at the head as of the call, and
// Rebuild at the heads it takes, however fast others append meanwhile.
func TestCatchUpStopsAtHead(t *testing.T) {
	ctx := context.Background()
	t.Run("CatchUp", func(t *testing.T) {
		s := NewMemoryStore()
		mustAppend(t, s, "a", AnyVersion, deposited(1))
		var calls atomic.Int64
		p, _ := NewFuncProjection("chase", NewMemoryCheckpointStore(), func(ctx context.Context, e Event) error {
			if calls.Add(1) < 5000 { // another writer keeps appending meanwhile
				_, err := s.Append(ctx, "b", AnyVersion, deposited(1))
				return err
			}
			return nil
		})
		r, _ := NewRunner(s, p, WithBatchSize(1))
		cp, err := r.CatchUp(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp != 1 || calls.Load() != 1 {
			t.Fatalf("CatchUp called at head 1 returned at %d after %d handler calls", cp, calls.Load())
		}
		// The next call goes on to the head as of then.
		if cp, err = r.CatchUp(ctx); err != nil || cp != 2 {
			t.Fatalf("second CatchUp: %d, %v", cp, err)
		}
	})
	t.Run("Rebuild", func(t *testing.T) {
		s := &busyStore{MemoryStore: NewMemoryStore()}
		mustAppend(t, s, "a", AnyVersion, deposited(1), deposited(2), deposited(3))
		m, _ := NewMemoryReadModel("chase", balances)
		r, _ := NewRunner(s, m, WithBatchSize(1))
		if err := r.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if n := s.reads.Load(); n >= 5000 {
			t.Fatalf("Rebuild read the log %d times: it chased the head", n)
		}
		cp, _ := m.Checkpoint(ctx)
		if h := head(t, s); cp < 3 || cp > h {
			t.Fatalf("rebuilt copy at %d, head %d", cp, h)
		}
	})
}

// TestNegativePositions: Wait after a negative position returns like
// Wait(0) (it does not build an invalid stream id); a negative checkpoint
// is refused.
func TestNegativePositions(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		s := st.newStore()
		mustAppend(t, s, "a", AnyVersion, deposited(1))
		if err := s.(Waiter).Wait(within(t, time.Second), -1); err != nil {
			t.Fatalf("Wait(-1): %v", err)
		}
		var cps CheckpointStore = NewMemoryCheckpointStore()
		if st.tg != nil {
			rc, err := NewRedisCheckpointStore(st.tg.Client, WithPrefix(st.tg.Prefix))
			if err != nil {
				t.Fatal(err)
			}
			cps = rc
		}
		if err := cps.SaveCheckpoint(context.Background(), "p", -1); !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("SaveCheckpoint(-1): %v", err)
		}
	})
}
