package saga

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestCrashAtEveryTransitionThenRecover abandons an execution at every
// log write (the write lost, or made and then the process gone), then has
// a fresh Saga on the same log (another client, for Redis: another
// process) Recover it. Whatever the crash point, failure and recovery
// policy, the saga must end finished, with every side effect done exactly
// once (Completed) or undone exactly once (Compensated), and a later
// Execute of the id must replay it without running anything.
func TestCrashAtEveryTransitionThenRecover(t *testing.T) {
	eachLog(t, func(t *testing.T, newLog func() Log, clock *fakeClock, _ *redistest.Target) {
		logA, logB := newLog(), newLog()
		for _, rec := range []Recovery{RollBack, RollForward} {
			for _, fail := range []string{"", "reserve", "charge", "ship", "ship+flaky-undo"} {
				t.Run(fmt.Sprintf("%s/fail=%s", rec, fail), func(t *testing.T) {
					points := 0
					for at := 0; ; at++ {
						crashed := false
						for _, after := range []bool{false, true} {
							if crashOnce(t, logA, logB, clock, rec, fail, at, after) {
								crashed = true
								points++
							}
						}
						if !crashed {
							break
						}
					}
					if points < 4 {
						t.Fatalf("only %d crash points exercised", points)
					}
				})
			}
		}
	})
}

// crashOnce runs one crash-and-recover; false when the execution finished
// before reaching write number at.
func crashOnce(t *testing.T, logA, logB Log, clock *fakeClock, rec Recovery, fail string, at int, after bool) bool {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprintf("%s-%s-%d-%v", rec, fail, at, after)
	where := fmt.Sprintf("crash at write %d (after=%v)", at, after)
	g := newRig()
	switch fail {
	case "ship+flaky-undo":
		g.failAction = "ship"
		g.compFailures["charge"] = 2
	default:
		g.failAction = fail
	}
	opts := append([]Option{WithRecovery(rec), WithLease(time.Minute)}, fastPolicies...)
	cl := &crashLog{Log: logA, at: at, after: after}
	first := mustNew(t, "crash", g.steps(), append(opts, WithLog(cl))...)
	_, err := first.Execute(ctx, id, order{ID: id})
	if !cl.didCrash() {
		return false
	}
	if !errors.Is(err, errCrash) {
		t.Fatalf("%s: Execute err = %v, want the crash", where, err)
	}
	clock.Advance(2 * time.Minute) // the first process's lease runs out

	second := mustNew(t, "crash", g.steps(), append(opts, WithLog(logB))...)
	results, err := second.Recover(ctx)
	if err != nil {
		t.Fatalf("%s: Recover: %v", where, err)
	}
	if len(results) > 1 {
		t.Fatalf("%s: Recover finished %d sagas, want at most 1", where, len(results))
	}
	final, err := second.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if at != 0 || after || g.l.callCount() != 0 || len(results) != 0 {
			t.Fatalf("%s: saga missing from the log", where)
		}
		return true // crashed before the saga was logged: nothing happened
	}
	if err != nil {
		t.Fatalf("%s: Get: %v", where, err)
	}
	if len(results) == 1 && (results[0].Status != final.Status || !results[0].Recovered || results[0].ID != id) {
		t.Fatalf("%s: recovered result %+v, log says %s", where, results[0], final.Status)
	}
	switch {
	case final.Status != Completed && final.Status != Compensated:
		t.Fatalf("%s: saga ended %s", where, final.Status)
	case g.failAction != "" && final.Status != Compensated:
		t.Fatalf("%s: step %s fails, but saga ended %s", where, g.failAction, final.Status)
	case g.failAction == "" && rec == RollForward && final.Status != Completed:
		t.Fatalf("%s: roll-forward saga without failures ended %s", where, final.Status)
	}
	t.Run(where, func(t *testing.T) { g.l.checkExactlyOnce(t, keysFor("crash", id), final.Status) })
	if final.Status == Completed && (final.Data.Reservation == "" || final.Data.Charge == "" || final.Data.Shipment == "") {
		t.Errorf("%s: completed with data %+v", where, final.Data)
	}

	calls := g.l.callCount()
	again, err := second.Execute(ctx, id, order{ID: id})
	if again == nil || !again.Replayed || again.Status != final.Status || g.l.callCount() != calls {
		t.Fatalf("%s: Execute after recovery: %v %+v", where, err, again)
	}
	if ids, err := logB.Abandoned(ctx, "crash", 10); err != nil || len(ids) != 0 {
		t.Fatalf("%s: still abandoned: %v %v", where, ids, err)
	}
	return true
}

// TestExecuteTakesOverAnAbandonedID: Execute of an id whose process died
// finishes that saga (from its log, not from the new data).
func TestExecuteTakesOverAnAbandonedID(t *testing.T) {
	clock := newFakeClock()
	ml, _ := NewMemoryLog(WithClock(clock.Now))
	g := newRig()
	cl := &crashLog{Log: ml, at: 2, after: true} // after charge's "begun"
	first := mustNew(t, "order", g.steps(), WithLog(cl), WithRecovery(RollForward))
	if _, err := first.Execute(context.Background(), "o", order{Amount: 5}); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	second := mustNew(t, "order", g.steps(), WithLog(ml), WithRecovery(RollForward))
	if _, err := second.Execute(context.Background(), "o", order{Amount: 99}); !errors.Is(err, ErrRunning) {
		t.Fatalf("before the lease expired: %v", err)
	}
	clock.Advance(time.Hour)
	res, err := second.Execute(context.Background(), "o", order{Amount: 99})
	if err != nil || res.Status != Completed || !res.Recovered || res.Data.Amount != 5 {
		t.Fatalf("takeover: %v %+v", err, res)
	}
	g.l.checkExactlyOnce(t, keysFor("order", "o"), Completed)
}

// TestLogFailureLeavesSagaForRecover: a log that stops answering mid-saga
// stops the saga before its next action; Recover finishes it later.
func TestLogFailureLeavesSagaForRecover(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clock := newFakeClock()
		g := newRig()
		var calls int
		steps := g.steps()
		inner := steps[1].Action
		steps[1].Action = func(ctx context.Context, o *order) error {
			calls++
			err := inner(ctx, o)
			tg.Cut() // Redis goes away while charge runs
			return err
		}
		l1, _ := NewRedisLog(tg.Client, WithPrefix(tg.Prefix), WithTimeout(200*time.Millisecond))
		l1.testNow = clock.Now
		s1 := mustNew(t, "order", steps, WithLog(l1), WithRecovery(RollForward))
		res, err := s1.Execute(context.Background(), "o", order{})
		if err == nil || res == nil || res.Status != Running || calls != 1 {
			t.Fatalf("with Redis cut: %v %+v", err, res)
		}
		if res.Steps[2].State != StepPending {
			t.Fatalf("ship ran without its transition logged: %+v", res.Steps[2])
		}
		tg.Heal()
		clock.Advance(time.Hour)
		c2, _ := tg.NewClient()
		l2, _ := NewRedisLog(c2, WithPrefix(tg.Prefix))
		l2.testNow = clock.Now
		s2 := mustNew(t, "order", g.steps(), WithLog(l2), WithRecovery(RollForward))
		results, err := s2.Recover(context.Background())
		if err != nil || len(results) != 1 || results[0].Status != Completed {
			t.Fatalf("Recover: %v %+v", err, results)
		}
		g.l.checkExactlyOnce(t, keysFor("order", "o"), Completed)
	})
}

// TestRecoverRefusesALogThatDoesNotFit: a saga logged by an older
// definition (a step since renamed) is left alone, with ErrLogMismatch.
func TestRecoverRefusesALogThatDoesNotFit(t *testing.T) {
	clock := newFakeClock()
	ml, _ := NewMemoryLog(WithClock(clock.Now))
	g := newRig()
	old := mustNew(t, "order", g.steps(), WithLog(&crashLog{Log: ml, at: 2}))
	if _, err := old.Execute(context.Background(), "o", order{}); !errors.Is(err, errCrash) {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	steps := g.steps()
	steps[1].Name = "charge-v2"
	var events []Event
	renamed := mustNew(t, "order", steps, WithLog(ml), WithObserver(func(e Event) { events = append(events, e) }))
	res, err := renamed.Recover(context.Background())
	if !errors.Is(err, ErrLogMismatch) || len(res) != 0 || len(events) != 0 {
		t.Fatalf("Recover: %v %v %v", err, res, events)
	}
	// The original definition still recovers it, and says so to observers.
	fixed := mustNew(t, "order", g.steps(), WithLog(ml), WithObserver(func(e Event) { events = append(events, e) }))
	clock.Advance(time.Hour)
	res, err = fixed.Recover(context.Background())
	if err != nil || len(res) != 1 || res[0].Status != Compensated {
		t.Fatalf("Recover: %v %+v", err, res)
	}
	for _, e := range events {
		if !e.Recovered {
			t.Errorf("event %s of a recovered saga without Recovered", e.Kind)
		}
	}
	if len(events) == 0 || events[len(events)-1].Kind != Finished {
		t.Errorf("events %v", eventNames(events))
	}
	g.l.checkExactlyOnce(t, keysFor("order", "o"), Compensated)
}
