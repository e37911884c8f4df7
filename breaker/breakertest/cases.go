package breakertest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/breaker"
)

// Cases are the conformance cases TestBreaker runs, in order. Each is
// exact under the manual clock the suite puts in Config.Clock.
var Cases = []Case{
	{"ClosedRunsFnWithCallersContext", closedRunsFnWithCallersContext},
	{"ConsecutiveFailuresOpen", consecutiveFailuresOpen},
	{"OpenRejectsWithRemainingTime", openRejectsWithRemainingTime},
	{"HalfOpenProbesConcurrentlyThenCloses", halfOpenProbesConcurrentlyThenCloses},
	{"FailedProbeReopens", failedProbeReopens},
	{"CanceledProbeGivesItsSlotBack", canceledProbeGivesItsSlotBack},
	{"LostProbeIsReplacedAfterOpenTimeout", lostProbeIsReplacedAfterOpenTimeout},
	{"LateOutcomesDoNotCount", lateOutcomesDoNotCount},
	{"Classification", classification},
	{"DefaultIsFailureIgnoresCanceled", defaultIsFailureIgnoresCanceled},
	{"PanicIsAFailureAndIsReRaised", panicIsAFailureAndIsReRaised},
	{"FailureRateOverCountWindow", failureRateOverCountWindow},
	{"CountWindowForgetsOldCalls", countWindowForgetsOldCalls},
	{"SlowCallRate", slowCallRate},
	{"TimeWindow", timeWindow},
	{"MetricsAndHooks", metricsAndHooks},
	{"HookMayCallTheBreaker", hookMayCallTheBreaker},
	{"HalfOpenIsReportedWithoutACall", halfOpenIsReportedWithoutACall},
	{"HalfOpenAgainAfterAFailedProbe", halfOpenAgainAfterAFailedProbe},
	{"NilFnIsAnErrorNotAFailure", nilFnIsAnErrorNotAFailure},
}

func closedRunsFnWithCallersContext(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now})
	type key struct{}
	ctx := context.WithValue(context.Background(), key{}, "v")
	for range 10 {
		err := b.Execute(ctx, func(got context.Context) error {
			assert.Equal(t, "v", got.Value(key{}))
			return nil
		})
		require.NoError(t, err)
	}
	require.Equal(t, breaker.Closed, b.State())
	m := b.Metrics()
	require.Equal(t, uint64(10), m.Calls)
	require.Equal(t, uint64(10), m.Successes)
}

func consecutiveFailuresOpen(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now})
	for range 4 {
		mustRun(t, b, fail)
	}
	mustRun(t, b, ok) // resets the run
	for range 4 {
		mustRun(t, b, fail)
		require.Equal(t, breaker.Closed, b.State())
	}
	require.Equal(t, 4, b.Metrics().ConsecutiveFailures)
	mustRun(t, b, fail)
	require.Equal(t, breaker.Open, b.State())
	mustReject(t, b, breaker.ErrOpen)
}

func openRejectsWithRemainingTime(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Name: "dep", Clock: clk.Now, FailureThreshold: 2, OpenTimeout: 10 * time.Second})
	mustRun(t, b, fail)
	mustRun(t, b, fail)
	clk.Advance(3 * time.Second)
	err := mustReject(t, b, breaker.ErrOpen)
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, 7*time.Second, oe.RetryAfter())
	require.Equal(t, "dep", oe.Name)
	require.Contains(t, err.Error(), `"dep": circuit open, next probe in 7s`)
	clk.Advance(7*time.Second - time.Millisecond)
	mustReject(t, b, breaker.ErrOpen)
	require.Equal(t, uint64(2), b.Metrics().Rejections)
	clk.Advance(time.Millisecond)
	mustRun(t, b, ok)
	require.Equal(t, breaker.Closed, b.State())
}

func halfOpenProbesConcurrentlyThenCloses(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenMaxCalls: 2})
	mustRun(t, b, fail)
	clk.Advance(time.Second)
	relp1, p1 := goCall(t, b)
	require.Equal(t, breaker.HalfOpen, b.State())
	relp2, p2 := goCall(t, b)
	mustReject(t, b, breaker.ErrTooManyCalls)
	relp1 <- nil
	require.NoError(t, recv(t, p1))
	require.Equal(t, breaker.HalfOpen, b.State(), "one probe of two succeeded")
	mustReject(t, b, breaker.ErrTooManyCalls) // the quota counts admitted probes, not running ones
	relp2 <- nil
	require.NoError(t, recv(t, p2))
	require.Equal(t, breaker.Closed, b.State())
	for range 4 {
		mustRun(t, b, ok)
	}
}

func failedProbeReopens(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenMaxCalls: 2})
	mustRun(t, b, fail)
	clk.Advance(time.Second)
	relp1, p1 := goCall(t, b)
	relp2, p2 := goCall(t, b)
	relp1 <- errBoom
	require.ErrorIs(t, recv(t, p1), errBoom)
	require.Equal(t, breaker.Open, b.State())
	err := mustReject(t, b, breaker.ErrOpen)
	var oe *breaker.OpenError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, time.Second, oe.RetryAfter(), "a full open period again")
	relp2 <- nil // the other probe's success is too late to count
	require.NoError(t, recv(t, p2))
	require.Equal(t, breaker.Open, b.State())
	clk.Advance(time.Second)
	mustRun(t, b, ok)
	require.Equal(t, breaker.HalfOpen, b.State())
	mustRun(t, b, ok)
	require.Equal(t, breaker.Closed, b.State())
}

func canceledProbeGivesItsSlotBack(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second})
	mustRun(t, b, fail)
	clk.Advance(time.Second)
	mustRun(t, b, func(context.Context) error { return context.Canceled })
	require.Equal(t, breaker.HalfOpen, b.State())
	mustRun(t, b, ok) // the slot is free again
	require.Equal(t, breaker.Closed, b.State())
	require.Equal(t, uint64(1), b.Metrics().Ignored)
}

func lostProbeIsReplacedAfterOpenTimeout(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second})
	mustRun(t, b, fail)
	clk.Advance(time.Second)
	relstuck, stuck := goCall(t, b)
	clk.Advance(time.Second - time.Millisecond)
	mustReject(t, b, breaker.ErrTooManyCalls)
	clk.Advance(time.Millisecond)
	mustRun(t, b, ok) // the stuck probe is presumed lost
	require.Equal(t, breaker.Closed, b.State())
	relstuck <- errBoom // too late: its period is over
	require.ErrorIs(t, recv(t, stuck), errBoom)
	require.Equal(t, breaker.Closed, b.State())
}

func lateOutcomesDoNotCount(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 2, OpenTimeout: time.Second})
	rellate, late := goCall(t, b) // admitted while closed
	mustRun(t, b, fail)
	mustRun(t, b, fail)
	require.Equal(t, breaker.Open, b.State())
	clk.Advance(time.Second)
	mustRun(t, b, ok)
	require.Equal(t, breaker.Closed, b.State())
	mustRun(t, b, fail)
	rellate <- errBoom // from the first closed period: not the current run
	require.ErrorIs(t, recv(t, late), errBoom)
	require.Equal(t, breaker.Closed, b.State())
	require.Equal(t, 1, b.Metrics().ConsecutiveFailures)
	require.Equal(t, uint64(4), b.Metrics().Failures, "metrics count every call")
}

func classification(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	errNotFound := errors.New("not found")
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 2,
		IsFailure: func(err error) bool { return !errors.Is(err, errNotFound) && !errors.Is(err, context.Canceled) }})
	mustRun(t, b, fail)
	mustRun(t, b, func(context.Context) error { return context.Canceled }) // neither
	require.Equal(t, 1, b.Metrics().ConsecutiveFailures)
	mustRun(t, b, func(context.Context) error { return fmt.Errorf("get: %w", errNotFound) }) // a success
	require.Equal(t, 0, b.Metrics().ConsecutiveFailures)
	mustRun(t, b, fail)
	mustRun(t, b, func(context.Context) error { return context.DeadlineExceeded })
	require.Equal(t, breaker.Open, b.State())
	m := b.Metrics()
	require.Equal(t, uint64(3), m.Failures)
	require.Equal(t, uint64(1), m.Successes)
	require.Equal(t, uint64(1), m.Ignored)
	require.Equal(t, uint64(5), m.Calls)
}

func defaultIsFailureIgnoresCanceled(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1})
	for range 3 {
		mustRun(t, b, func(context.Context) error { return fmt.Errorf("op: %w", context.Canceled) })
	}
	require.Equal(t, breaker.Closed, b.State())
	mustRun(t, b, func(context.Context) error { return context.DeadlineExceeded })
	require.Equal(t, breaker.Open, b.State())
}

func panicIsAFailureAndIsReRaised(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 2, OpenTimeout: time.Second})
	for range 2 {
		require.PanicsWithValue(t, "kaboom", func() {
			_ = b.Execute(context.Background(), func(context.Context) error { panic("kaboom") })
		})
	}
	require.Equal(t, breaker.Open, b.State())
	require.Equal(t, uint64(2), b.Metrics().Failures)
	clk.Advance(time.Second)
	require.Panics(t, func() {
		_ = b.Execute(context.Background(), func(context.Context) error { panic("probe") })
	})
	require.Equal(t, breaker.Open, b.State(), "a panicking probe re-opens")
}

func failureRateOverCountWindow(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1000, FailureRateThreshold: 0.5, WindowSize: 10, MinimumCalls: 6})
	// 3 failures in 5 calls: 60%, but fewer than MinimumCalls.
	for _, f := range []bool{true, false, true, false, true} {
		mustRun(t, b, map[bool]func(context.Context) error{true: fail, false: ok}[f])
	}
	require.Equal(t, breaker.Closed, b.State())
	m := b.Metrics()
	require.Equal(t, 5, m.WindowCalls)
	require.InDelta(t, 0.6, m.FailureRate, 1e-9)
	mustRun(t, b, ok) // 3 of 6: 50% reaches the threshold
	require.Equal(t, breaker.Open, b.State())
}

func countWindowForgetsOldCalls(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1000, FailureRateThreshold: 0.3, WindowSize: 10})
	for range 2 {
		mustRun(t, b, fail)
	}
	for range 18 {
		mustRun(t, b, ok)
	}
	require.Equal(t, 0.0, b.Metrics().FailureRate)
	for range 2 {
		mustRun(t, b, fail)
	}
	require.Equal(t, breaker.Closed, b.State(), "2 of the last 10")
	mustRun(t, b, fail)
	require.Equal(t, breaker.Open, b.State(), "3 of the last 10 is 30%")
}

func slowCallRate(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, OpenTimeout: time.Second, SlowCallRateThreshold: 0.5, SlowCallDuration: 100 * time.Millisecond, WindowSize: 4})
	slow := func(context.Context) error { clk.Advance(101 * time.Millisecond); return nil }
	atLimit := func(context.Context) error { clk.Advance(100 * time.Millisecond); return nil }
	mustRun(t, b, slow)
	mustRun(t, b, atLimit) // not slower than SlowCallDuration
	mustRun(t, b, atLimit)
	require.Equal(t, breaker.Closed, b.State())
	require.Equal(t, uint64(1), b.Metrics().SlowCalls)
	mustRun(t, b, slow)
	require.Equal(t, breaker.Open, b.State())
	require.Equal(t, 0.5, b.Metrics().SlowCallRate)
	clk.Advance(time.Second)
	mustRun(t, b, slow) // a slow probe counts as failed
	require.Equal(t, breaker.Open, b.State())
	clk.Advance(time.Second)
	mustRun(t, b, ok)
	require.Equal(t, breaker.Closed, b.State())
	require.Equal(t, 0, b.Metrics().WindowCalls, "closing empties the window")
}

func timeWindow(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1000, FailureRateThreshold: 0.5, WindowDuration: 10 * time.Second, MinimumCalls: 4})
	for range 3 {
		mustRun(t, b, fail)
	}
	clk.Advance(10 * time.Second) // those drop out
	require.Equal(t, 0, b.Metrics().WindowCalls)
	mustRun(t, b, fail)
	mustRun(t, b, ok)
	mustRun(t, b, ok)
	require.Equal(t, breaker.Closed, b.State())
	clk.Advance(5 * time.Second)
	mustRun(t, b, ok)
	m := b.Metrics()
	require.Equal(t, 4, m.WindowCalls)
	require.Equal(t, 0.25, m.FailureRate)
	mustRun(t, b, fail)
	mustRun(t, b, fail) // 3 of 6
	require.Equal(t, breaker.Open, b.State())
}

func metricsAndHooks(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	var h hookLog
	b := newB(t, breaker.Config{Name: "svc", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, OnStateChange: h.hook})
	require.True(t, b.Metrics().LastTransition.IsZero())
	mustRun(t, b, fail)
	opened := clk.Now()
	mustReject(t, b, breaker.ErrOpen)
	clk.Advance(time.Second)
	mustRun(t, b, ok)
	require.Equal(t, []string{"svc:closed->open", "svc:open->half-open", "svc:half-open->closed"}, h.get())
	m := b.Metrics()
	require.Equal(t, breaker.Metrics{
		Name: "svc", State: breaker.Closed, Calls: 2, Successes: 1, Failures: 1, Rejections: 1,
		Transitions: 3, LastTransition: opened.Add(time.Second),
	}, m)
}

func hookMayCallTheBreaker(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	var b *breaker.Breaker
	var states []breaker.State
	b = newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1, OnStateChange: func(_ string, _, to breaker.State) {
		states = append(states, b.State())
		_ = b.Execute(context.Background(), ok) // refused while open; must not deadlock
	}})
	mustRun(t, b, fail)
	require.Equal(t, []breaker.State{breaker.Open}, states)
}

// State and Metrics report half-open once OpenTimeout has passed, with
// no call needed (a dashboard polling them is not misled), and the
// hooks see each transition exactly once (issue 14).
func halfOpenIsReportedWithoutACall(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	h := &hookLog{}
	var kinds []string
	b := newB(t, breaker.Config{Name: "svc", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second,
		OnStateChange: h.hook, Observer: func(e breaker.Event) {
			if e.Kind == breaker.EventStateChange {
				kinds = append(kinds, e.From.String()+"->"+e.To.String())
			}
		}})
	mustRun(t, b, fail)
	clk.Advance(time.Second - time.Millisecond)
	require.Equal(t, breaker.Open, b.State())
	require.Equal(t, breaker.Open, b.Metrics().State)
	clk.Advance(time.Millisecond)
	require.Equal(t, breaker.HalfOpen, b.Metrics().State)
	for range 3 {
		require.Equal(t, breaker.HalfOpen, b.State())
	}
	require.Equal(t, uint64(2), b.Metrics().Transitions)
	require.Equal(t, []string{"svc:closed->open", "svc:open->half-open"}, h.get())

	// The observed half-open period is a real one: its probe quota holds,
	// and its first call is the probe, without another transition.
	rel, res := goCall(t, b)
	mustReject(t, b, breaker.ErrTooManyCalls)
	rel <- nil
	require.NoError(t, recv(t, res))
	require.Equal(t, breaker.Closed, b.State())
	want := []string{"closed->open", "open->half-open", "half-open->closed"}
	require.Equal(t, want, kinds)
	require.Equal(t, []string{"svc:closed->open", "svc:open->half-open", "svc:half-open->closed"}, h.get())
	require.Equal(t, uint64(3), b.Metrics().Transitions)
}

// A probe that fails re-opens for a full OpenTimeout, after which the
// state reads half-open again, without a call.
func halfOpenAgainAfterAFailedProbe(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	h := &hookLog{}
	b := newB(t, breaker.Config{Name: "svc", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, OnStateChange: h.hook})
	mustRun(t, b, fail)
	clk.Advance(time.Second)
	require.Equal(t, breaker.HalfOpen, b.State())
	mustRun(t, b, fail)
	require.Equal(t, breaker.Open, b.State())
	clk.Advance(time.Second - time.Nanosecond)
	require.Equal(t, breaker.Open, b.State())
	clk.Advance(time.Nanosecond)
	require.Equal(t, breaker.HalfOpen, b.State())
	require.Equal(t, []string{"svc:closed->open", "svc:open->half-open", "svc:half-open->open", "svc:open->half-open"}, h.get())
}

// A nil fn is the caller's bug: an error in every state, never a
// panic, and nothing counted (issue 12, defect 11).
func nilFnIsAnErrorNotAFailure(t *testing.T, _ Features, newB Factory) {
	clk := newFakeClock()
	b := newB(t, breaker.Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second})
	nilCalls := func(want breaker.State) {
		t.Helper()
		before := b.Metrics()
		require.NotPanics(t, func() {
			require.ErrorIs(t, b.Execute(context.Background(), nil), breaker.ErrNilFunc)
			v, err := breaker.Do[int](context.Background(), b, nil)
			require.ErrorIs(t, err, breaker.ErrNilFunc)
			require.Zero(t, v)
		})
		require.Equal(t, before, b.Metrics(), "nothing counted")
		require.Equal(t, want, b.State())
	}
	nilCalls(breaker.Closed)
	mustRun(t, b, fail)
	nilCalls(breaker.Open)
	clk.Advance(time.Second)
	nilCalls(breaker.HalfOpen) // the open period is over; a nil fn is not a probe: the next real call is
	rel, res := goCall(t, b)
	require.Equal(t, breaker.HalfOpen, b.State())
	nilCalls(breaker.HalfOpen)
	rel <- nil
	require.NoError(t, recv(t, res))
	require.Equal(t, breaker.Closed, b.State())
}
