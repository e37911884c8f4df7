package saga

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/sysdesign/patterns/internal/redistest"
)

// dummyClient is a client that is never used to talk to a server.
func dummyClient() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) }

func noop(context.Context, *order) error { return nil }

func TestNewRejectsBadDefinitions(t *testing.T) {
	ok := Step[order]{Name: "a", Action: noop}
	cases := map[string]struct {
		name  string
		steps []Step[order]
		opts  []Option
		want  string
	}{
		"empty saga name":    {"", []Step[order]{ok}, nil, "saga name is empty"},
		"no steps":           {"s", nil, nil, "no steps"},
		"empty step name":    {"s", []Step[order]{ok, {Action: noop}}, nil, "step 1 has an empty name"},
		"duplicate name":     {"s", []Step[order]{ok, ok}, nil, `both named "a"`},
		"nil action":         {"s", []Step[order]{{Name: "a", Compensate: noop}}, nil, "nil Action"},
		"nil option":         {"s", []Step[order]{ok}, []Option{nil}, "nil Option"},
		"nil log":            {"s", []Step[order]{ok}, []Option{WithLog(nil)}, "WithLog(nil)"},
		"nil clock":          {"s", []Step[order]{ok}, []Option{WithClock(nil)}, "WithClock(nil)"},
		"short lease":        {"s", []Step[order]{ok}, []Option{WithLease(0)}, "WithLease"},
		"bad recovery":       {"s", []Step[order]{ok}, []Option{WithRecovery(0)}, "WithRecovery"},
		"negative attempts":  {"s", []Step[order]{ok}, []Option{WithActionPolicy(Policy{MaxAttempts: -1})}, "MaxAttempts"},
		"negative timeout":   {"s", []Step[order]{ok}, []Option{WithCompensationPolicy(Policy{Timeout: -1})}, "Timeout"},
		"cap below backoff":  {"s", []Step[order]{ok}, []Option{WithActionPolicy(Policy{Backoff: time.Second, MaxBackoff: time.Millisecond})}, "MaxBackoff"},
		"cap below default":  {"s", []Step[order]{ok}, []Option{WithActionPolicy(Policy{MaxBackoff: time.Millisecond})}, "MaxBackoff"},
		"unknown step":       {"s", []Step[order]{ok}, []Option{WithStepPolicy("b", Policy{}, Policy{})}, "no such step"},
		"nil observer":       {"s", []Step[order]{ok}, []Option{WithObserver(nil)}, "WithObserver(nil)"},
		"nil failed hook":    {"s", []Step[order]{ok}, []Option{WithOnFailed(nil)}, "WithOnFailed(nil)"},
		"bad step policy":    {"s", []Step[order]{ok}, []Option{WithStepPolicy("a", Policy{}, Policy{Backoff: -1})}, "Backoff"},
		"negative max delay": {"s", []Step[order]{ok}, []Option{WithActionPolicy(Policy{MaxBackoff: -1})}, "MaxBackoff"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(c.name, c.steps, c.opts...)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q, want it to mention %q", err, c.want)
			}
		})
	}
	t.Run("data that does not encode", func(t *testing.T) {
		_, err := New("s", []Step[chan int]{{Name: "a", Action: func(context.Context, *chan int) error { return nil }}})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("err = %v, want ErrInvalidConfig", err)
		}
	})
}

// Options that fit a constructor, checked by the compiler: an option
// that does not fit (WithClock on a RedisLog, WithPrefix on a MemoryLog)
// is a compile error, so there is no run-time check left to test.
var (
	_ LogOption              = WithPrefix("")
	_ LogOption              = WithShards(1)
	_ LogOption              = WithTimeout(1)
	_ AnyLogOption           = WithRetention(1)
	_ SagaAndMemoryLogOption = WithClock(nil)
	_ SagaAndLogOption       = WithClock(nil) // the deprecated name still compiles
)

func TestLogOptionsValidated(t *testing.T) {
	for name, opts := range map[string][]MemoryLogOption{
		"nil option":      {nil},
		"short retention": {WithRetention(0)},
		"nil clock":       {WithClock(nil)},
	} {
		_, err := NewMemoryLog(opts...)
		assert.ErrorIs(t, err, ErrInvalidConfig, "NewMemoryLog %s", name)
	}
	_, err := NewRedisLog(nil)
	require.ErrorIs(t, err, ErrInvalidConfig, "NewRedisLog(nil)")
	for name, opts := range map[string][]LogOption{
		"nil option":      {nil},
		"short retention": {WithRetention(0)},
		"empty prefix":    {WithPrefix("")},
		"brace prefix":    {WithPrefix("a{b}:")},
		"zero shards":     {WithShards(0)},
		"many shards":     {WithShards(5000)},
		"zero timeout":    {WithTimeout(0)},
	} {
		_, err := NewRedisLog(dummyClient(), opts...)
		assert.ErrorIs(t, err, ErrInvalidConfig, "NewRedisLog %s", name)
	}
}

func TestLogDefaults(t *testing.T) {
	m, err := NewMemoryLog()
	require.NoError(t, err)
	assert.Equal(t, DefaultMemoryRetention, m.retention)
	r, err := NewRedisLog(dummyClient())
	require.NoError(t, err)
	assert.Equal(t, DefaultPrefix, r.prefix)
	assert.Equal(t, uint32(DefaultShards), r.shards)
	assert.Equal(t, strconv.FormatInt(DefaultRetention.Milliseconds(), 10), r.retention)
}

func TestStepStateStringsAreIdentifiers(t *testing.T) {
	for st, want := range map[StepState]string{
		StepPending: "step-pending", StepRunning: "step-running", StepSucceeded: "step-succeeded",
		StepActionFailed: "step-action-failed", StepCompensating: "step-compensating",
		StepUndone: "step-undone", StepUndoFailed: "step-undo-failed", StepState(99): "StepState(99)",
	} {
		assert.Equal(t, want, st.String())
	}
}

func TestHappyPath(t *testing.T) {
	g := newRig()
	var events []Event
	s := mustNew(t, "order", g.steps(), WithObserver(func(e Event) { events = append(events, e) }))
	res, err := s.Execute(context.Background(), "o-1", order{ID: "o-1", Amount: 42})
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Status != Completed || res.Err != nil || res.Replayed || res.Recovered {
		t.Fatalf("result %+v", res)
	}
	if res.Data.Reservation != "order/o-1/reserve" || res.Data.Charge != "order/o-1/charge" || res.Data.Shipment != "order/o-1/ship" {
		t.Errorf("data %+v: later steps must see what earlier steps recorded", res.Data)
	}
	for i, st := range res.Steps {
		if st.Name != stepNames[i] || st.State != StepSucceeded || st.Attempts != 1 || st.Err != nil {
			t.Errorf("step %d: %+v", i, st)
		}
	}
	g.l.checkExactlyOnce(t, keysFor("order", "o-1"), Completed)
	want := []string{"started", "step-begun reserve", "step-done reserve", "step-begun charge", "step-done charge",
		"step-begun ship", "step-done ship", "finished"}
	if got := eventNames(events); !reflect.DeepEqual(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	if last := events[len(events)-1]; last.Status != Completed {
		t.Errorf("finished event status %s", last.Status)
	}
	// The log holds the same transitions, each with the data as of then.
	rec, err := s.Log().Load(context.Background(), "order", "o-1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != Completed || len(rec.Entries) != len(want) {
		t.Fatalf("record %s with %d entries", rec.Status, len(rec.Entries))
	}
	if !strings.Contains(string(rec.Entries[2].Data), `"Reservation":"order/o-1/reserve"`) || strings.Contains(string(rec.Entries[1].Data), "order/o-1/reserve") {
		t.Errorf("entry data: begun %s, done %s", rec.Entries[1].Data, rec.Entries[2].Data)
	}
}

func eventNames(events []Event) []string {
	var out []string
	for _, e := range events {
		if e.StepName != "" && e.Kind != Finished {
			out = append(out, e.Kind.String()+" "+e.StepName)
		} else {
			out = append(out, e.Kind.String())
		}
	}
	return out
}

func TestFailureAtEveryStep(t *testing.T) {
	for k, failing := range stepNames {
		t.Run(failing, func(t *testing.T) {
			g := newRig()
			g.failAction = failing
			var events []Event
			s := mustNew(t, "order", g.steps(), WithObserver(func(e Event) { events = append(events, e) }))
			res, err := s.Execute(context.Background(), "o", order{})
			if !errors.Is(err, ErrCompensated) || !errors.Is(err, errInjected) {
				t.Fatalf("err = %v, want ErrCompensated and the step's error", err)
			}
			var se *Error
			if !errors.As(err, &se) || se.Step != failing || se.Status != Compensated {
				t.Fatalf("err = %#v, want an *Error naming step %q", err, failing)
			}
			if res.Status != Compensated || res.Err != err {
				t.Fatalf("status %s, res.Err %v", res.Status, res.Err)
			}
			for i, st := range res.Steps {
				want := StepPending
				switch {
				case i < k:
					want = StepUndone
				case i == k:
					want = StepActionFailed
				}
				if st.State != want {
					t.Errorf("step %d %s: state %s, want %s", i, st.Name, st.State, want)
				}
			}
			g.l.checkExactlyOnce(t, keysFor("order", "o"), Compensated)
			// compensations ran in reverse order
			var comp []string
			for _, e := range events {
				if e.Kind == CompensationBegun {
					comp = append(comp, e.StepName)
				}
			}
			var want []string
			for i := k - 1; i >= 0; i-- {
				want = append(want, stepNames[i])
			}
			if !reflect.DeepEqual(comp, want) {
				t.Errorf("compensated %v, want %v", comp, want)
			}
		})
	}
}

func TestCompensationFailsAtEveryStep(t *testing.T) {
	for k := 0; k < len(stepNames)-1; k++ {
		broken := stepNames[k]
		t.Run(broken, func(t *testing.T) {
			g := newRig()
			g.failAction = "ship"
			g.compFailures[broken] = -1
			var failed []Event
			var retries int
			s := mustNew(t, "order", g.steps(), append(fastPolicies,
				WithCompensationPolicy(Policy{MaxAttempts: 4, Backoff: time.Microsecond}),
				WithOnFailed(func(e Event) { failed = append(failed, e) }),
				WithObserver(func(e Event) {
					if e.Kind == Retrying {
						retries++
					}
				}))...)
			res, err := s.Execute(context.Background(), "o", order{})
			if !errors.Is(err, ErrFailed) || !errors.Is(err, errInjected) {
				t.Fatalf("err = %v, want ErrFailed", err)
			}
			var se *Error
			if !errors.As(err, &se) || se.Step != broken || se.Status != Failed {
				t.Fatalf("err = %v, want it to name step %q", err, broken)
			}
			if res.Status != Failed {
				t.Fatalf("status %s", res.Status)
			}
			st := res.Steps[k]
			if st.State != StepUndoFailed || st.CompensationAttempts != 4 || st.CompensationErr == nil {
				t.Errorf("step %+v", st)
			}
			if retries != 3 {
				t.Errorf("%d retry events, want 3", retries)
			}
			// Steps before the broken one are left alone: an operator decides.
			for i := 0; i < k; i++ {
				if res.Steps[i].State != StepSucceeded {
					t.Errorf("step %d state %s", i, res.Steps[i].State)
				}
			}
			if len(failed) != 1 || failed[0].StepName != broken || failed[0].Status != Failed || !errors.Is(failed[0].Err, errInjected) {
				t.Fatalf("OnFailed events %+v", failed)
			}
			rec, err := s.Log().Load(context.Background(), "order", "o")
			if err != nil || rec.Status != Failed {
				t.Fatalf("log kept: %v, %v", rec, err)
			}
			// Execute again: the failed saga is replayed, not re-run.
			calls := g.l.callCount()
			again, err := s.Execute(context.Background(), "o", order{})
			if !errors.Is(err, ErrFailed) || !again.Replayed || again.Status != Failed || g.l.callCount() != calls {
				t.Fatalf("replay: %v %+v", err, again)
			}
		})
	}
}

func TestTransientCompensationFailuresRetried(t *testing.T) {
	g := newRig()
	g.failAction = "ship"
	g.compFailures["charge"] = 3
	g.compFailures["reserve"] = 1
	s := mustNew(t, "order", g.steps(), fastPolicies...)
	res, err := s.Execute(context.Background(), "o", order{})
	if !errors.Is(err, ErrCompensated) {
		t.Fatalf("err = %v", err)
	}
	if a := res.Steps[1].CompensationAttempts; a != 4 {
		t.Errorf("charge compensation attempts %d, want 4", a)
	}
	if a := res.Steps[0].CompensationAttempts; a != 2 {
		t.Errorf("reserve compensation attempts %d, want 2", a)
	}
	g.l.checkExactlyOnce(t, keysFor("order", "o"), Compensated)
}

func TestActionRetriesAndPermanent(t *testing.T) {
	g := newRig()
	g.actionFailures["charge"] = 2
	s := mustNew(t, "order", g.steps(), append(fastPolicies, WithStepPolicy("charge", Policy{MaxAttempts: 3}, Policy{}))...)
	res, err := s.Execute(context.Background(), "o", order{})
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if a := res.Steps[1].Attempts; a != 3 {
		t.Errorf("charge attempts %d, want 3", a)
	}
	if a := res.Steps[0].Attempts; a != 1 {
		t.Errorf("reserve attempts %d, want 1", a)
	}

	// Too few attempts: the step fails.
	g = newRig()
	g.actionFailures["charge"] = 5
	s = mustNew(t, "order", g.steps(), append(fastPolicies, WithActionPolicy(Policy{MaxAttempts: 3, Backoff: time.Microsecond}))...)
	res, err = s.Execute(context.Background(), "o", order{})
	if !errors.Is(err, ErrCompensated) || res.Steps[1].Attempts != 3 {
		t.Fatalf("err = %v, attempts %d", err, res.Steps[1].Attempts)
	}

	// A Permanent error is not retried.
	g = newRig()
	g.failAction = "charge"
	s = mustNew(t, "order", g.steps(), append(fastPolicies, WithActionPolicy(Policy{MaxAttempts: 5, Backoff: time.Microsecond}))...)
	res, _ = s.Execute(context.Background(), "o", order{})
	if res.Steps[1].Attempts != 1 {
		t.Fatalf("permanent error tried %d times", res.Steps[1].Attempts)
	}
}

func TestStepTimeout(t *testing.T) {
	var tries atomic.Int32
	steps := []Step[order]{{Name: "slow", Action: func(ctx context.Context, _ *order) error {
		tries.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}}}
	s := mustNew(t, "t", steps, WithActionPolicy(Policy{MaxAttempts: 2, Timeout: 5 * time.Millisecond, Backoff: time.Microsecond}))
	res, err := s.Execute(context.Background(), "o", order{})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrCompensated) {
		t.Fatalf("err = %v", err)
	}
	if tries.Load() != 2 || res.Steps[0].Attempts != 2 {
		t.Fatalf("tries %d", tries.Load())
	}
}

func TestStepWithoutCompensateIsSkipped(t *testing.T) {
	g := newRig()
	g.noCompensate = "charge"
	g.failAction = "ship"
	s := mustNew(t, "order", g.steps())
	res, err := s.Execute(context.Background(), "o", order{})
	if !errors.Is(err, ErrCompensated) {
		t.Fatal(err)
	}
	if res.Steps[1].State != StepSucceeded || res.Steps[0].State != StepUndone {
		t.Fatalf("steps %+v", res.Steps)
	}
}

func TestPanicIsAFailure(t *testing.T) {
	steps := []Step[order]{
		{Name: "a", Action: noop, Compensate: noop},
		{Name: "b", Action: func(context.Context, *order) error { panic("boom") }},
	}
	s := mustNew(t, "p", steps)
	res, err := s.Execute(context.Background(), "o", order{})
	if !errors.Is(err, ErrPanic) || !errors.Is(err, ErrCompensated) || res.Steps[0].State != StepUndone {
		t.Fatalf("err = %v", err)
	}
}

func TestCancelCompensatesOnUncancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	var compCtxErr error
	var compValue any
	steps := []Step[order]{
		{Name: "a", Action: noop, Compensate: func(ctx context.Context, _ *order) error {
			compCtxErr, compValue = ctx.Err(), ctx.Value(ctxKey{})
			return nil
		}},
		{Name: "b", Action: func(ctx context.Context, _ *order) error { cancel(); return nil }},
		{Name: "c", Action: func(ctx context.Context, _ *order) error { t.Error("step c ran after cancel"); return nil }},
	}
	s := mustNew(t, "c", steps)
	res, err := s.Execute(ctx, "o", order{})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCompensated) {
		t.Fatalf("err = %v", err)
	}
	if compCtxErr != nil || compValue != "v" {
		t.Errorf("compensation ctx: err %v, value %v", compCtxErr, compValue)
	}
	if res.Steps[2].State != StepActionFailed || res.Steps[2].Attempts != 0 || res.Steps[0].State != StepUndone {
		t.Errorf("steps %+v", res.Steps)
	}
	// Already cancelled: nothing starts.
	if _, err := s.Execute(ctx, "o2", order{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := s.Get(context.Background(), "o2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("o2 started: %v", err)
	}
}

type ctxKey struct{}

func TestStepInfo(t *testing.T) {
	var got []StepInfo
	record := func(ctx context.Context, _ *order) error {
		i, ok := Info(ctx)
		if !ok {
			t.Error("no info")
		}
		got = append(got, i)
		return nil
	}
	fail := func(ctx context.Context, o *order) error { _ = record(ctx, o); return errInjected }
	s := mustNew(t, "info", []Step[order]{{Name: "a", Action: record, Compensate: record}, {Name: "b", Action: fail}})
	_, _ = s.Execute(context.Background(), "id7", order{})
	want := []StepInfo{
		{Saga: "info", ID: "id7", Step: "a", Index: 0, Attempt: 1},
		{Saga: "info", ID: "id7", Step: "b", Index: 1, Attempt: 1},
		{Saga: "info", ID: "id7", Step: "a", Index: 0, Attempt: 1, Compensating: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("infos\n got %+v\nwant %+v", got, want)
	}
	if k := StepKey(context.Background()); k != "" {
		t.Errorf("StepKey outside a step = %q", k)
	}
	if _, ok := Info(context.Background()); ok {
		t.Error("Info outside a step")
	}
}

func TestExecuteFinishedIDReplays(t *testing.T) {
	g := newRig()
	s := mustNew(t, "order", g.steps())
	first, err := s.Execute(context.Background(), "o", order{Amount: 1})
	if err != nil {
		t.Fatal(err)
	}
	calls := g.l.callCount()
	again, err := s.Execute(context.Background(), "o", order{Amount: 2})
	if err != nil || !again.Replayed || again.Status != Completed || g.l.callCount() != calls {
		t.Fatalf("again: %v %+v", err, again)
	}
	if again.Data != first.Data {
		t.Errorf("replayed data %+v, want %+v", again.Data, first.Data)
	}
	for i := range again.Steps {
		if again.Steps[i].State != StepSucceeded || again.Steps[i].Attempts != 1 {
			t.Errorf("replayed step %+v", again.Steps[i])
		}
	}
	// A compensated saga replays its error too.
	g.failAction = "charge"
	s2 := mustNew(t, "order2", g.steps())
	_, err1 := s2.Execute(context.Background(), "o", order{})
	_, err2 := s2.Execute(context.Background(), "o", order{})
	if !errors.Is(err2, ErrCompensated) || err1.Error() != err2.Error() {
		t.Fatalf("replayed error %v, first %v", err2, err1)
	}
	if _, err := s.Execute(context.Background(), "", order{}); !errors.Is(err, ErrInvalidID) {
		t.Fatalf("empty id: %v", err)
	}
}

func TestConcurrentExecuteOfOneID(t *testing.T) {
	eachLog(t, func(t *testing.T, newLog func() Log, clock *fakeClock, _ *redistest.Target) {
		release := make(chan struct{})
		var runs atomic.Int32
		steps := []Step[order]{{Name: "a", Action: func(ctx context.Context, _ *order) error {
			runs.Add(1)
			<-release
			return nil
		}}}
		const n = 8
		sagas := make([]*Saga[order], n)
		for i := range sagas {
			sagas[i] = mustNew(t, "conc", steps, WithLog(newLog()))
		}
		var wg sync.WaitGroup
		var refused atomic.Int32
		results := make(chan *Result[order], n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(s *Saga[order]) {
				defer wg.Done()
				res, err := s.Execute(context.Background(), "same", order{})
				switch {
				case errors.Is(err, ErrRunning):
					refused.Add(1)
				case err != nil:
					t.Errorf("Execute: %v", err)
				default:
					results <- res
				}
			}(sagas[i])
		}
		// n-1 are refused while the first runs; then it completes.
		deadline := time.Now().Add(5 * time.Second)
		for refused.Load() < n-1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		close(release)
		wg.Wait()
		close(results)
		if refused.Load() != n-1 || runs.Load() != 1 || len(results) != 1 {
			t.Fatalf("refused %d, runs %d, results %d", refused.Load(), runs.Load(), len(results))
		}
		res, err := sagas[3].Execute(context.Background(), "same", order{})
		if err != nil || !res.Replayed || runs.Load() != 1 {
			t.Fatalf("after: %v %+v", err, res)
		}
	})
}

func TestLeaseLostStopsTheStaleProcess(t *testing.T) {
	eachLog(t, func(t *testing.T, newLog func() Log, clock *fakeClock, _ *redistest.Target) {
		inStep := make(chan struct{})
		release := make(chan struct{})
		var aRuns, bRuns, cRuns atomic.Int32
		mk := func(runs *atomic.Int32, block bool) []Step[order] {
			return []Step[order]{
				{Name: "a", Action: func(ctx context.Context, _ *order) error {
					runs.Add(1)
					if block {
						close(inStep)
						<-release
					}
					return nil
				}},
				{Name: "b", Action: func(context.Context, *order) error { cRuns.Add(1); return nil }},
			}
		}
		stale := mustNew(t, "lease", mk(&aRuns, true), WithLog(newLog()), WithLease(time.Minute))
		fresh := mustNew(t, "lease", mk(&bRuns, false), WithLog(newLog()), WithLease(time.Minute), WithRecovery(RollForward))
		done := make(chan error, 1)
		var staleRes *Result[order]
		go func() {
			var err error
			staleRes, err = stale.Execute(context.Background(), "x", order{})
			done <- err
		}()
		<-inStep
		if _, err := fresh.Execute(context.Background(), "x", order{}); !errors.Is(err, ErrRunning) {
			t.Fatalf("while leased: %v", err)
		}
		clock.Advance(2 * time.Minute) // the stale process looks dead
		res, err := fresh.Recover(context.Background())
		if err != nil || len(res) != 1 || res[0].Status != Completed || !res[0].Recovered {
			t.Fatalf("Recover: %v %+v", err, res)
		}
		close(release)
		err = <-done
		if !errors.Is(err, ErrLeaseLost) || staleRes.Status != Running {
			t.Fatalf("stale process: %v", err)
		}
		if cRuns.Load() != 1 {
			t.Fatalf("step b ran %d times, want 1 (by the new owner only)", cRuns.Load())
		}
	})
}

func TestHeartbeatRenewsLeaseAndStops(t *testing.T) {
	base := runtime.NumGoroutine()
	ml, _ := NewMemoryLog()
	cl := &countingLog{Log: ml}
	steps := []Step[order]{{Name: "slow", Action: func(ctx context.Context, _ *order) error {
		deadline := time.Now().Add(2 * time.Second)
		for cl.renews.Load() < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return nil
	}}}
	s := mustNew(t, "hb", steps, WithLog(cl), WithLease(6*time.Millisecond))
	for i := 0; i < 5; i++ {
		cl.renews.Store(0)
		if _, err := s.Execute(context.Background(), fmt.Sprint("id", i), order{}); err != nil {
			t.Fatal(err)
		}
		if cl.renews.Load() < 3 {
			t.Fatalf("only %d renewals during a long step", cl.renews.Load())
		}
	}
	after := cl.renews.Load()
	time.Sleep(20 * time.Millisecond)
	if cl.renews.Load() != after {
		t.Errorf("renewals went on after Execute returned")
	}
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("goroutines: %d before, %d after", base, n)
	}
}

type countingLog struct {
	Log
	renews atomic.Int32
}

func (c *countingLog) Renew(ctx context.Context, saga, id string, token int64, lease time.Duration) error {
	c.renews.Add(1)
	return c.Log.Renew(ctx, saga, id, token, lease)
}

func TestBackoffIsCappedExponentialWithFullJitter(t *testing.T) {
	p := Policy{Backoff: 10 * time.Millisecond, MaxBackoff: 70 * time.Millisecond}
	top := func(n int64) int64 { return n - 1 }
	want := []time.Duration{10, 20, 40, 70, 70, 70}
	for i, w := range want {
		if got := p.wait(i+1, top); got != w*time.Millisecond {
			t.Errorf("attempt %d: max wait %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
	if got := p.wait(3, func(int64) int64 { return 0 }); got != 0 {
		t.Errorf("min wait %s, want 0 (full jitter)", got)
	}
	for i := 1; i < 100; i++ {
		if got := p.wait(i, nil); got < 0 || got > 70*time.Millisecond {
			t.Fatalf("attempt %d: wait %s out of [0, cap]", i, got)
		}
	}
}
