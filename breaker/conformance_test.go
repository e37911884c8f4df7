package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// newFunc makes a breaker for cfg (its Clock set to a fake clock) on the
// backend under test.
type newFunc func(t *testing.T, cfg Config) *Breaker

func newMemory(t *testing.T, cfg Config) *Breaker {
	t.Helper()
	b, err := New(cfg)
	require.NoError(t, err)
	return b
}

// newOnRedis makes breakers on a RedisStore of tg whose scripts take their
// time from the breaker's fake clock, so exact-time suites run on real
// servers too. Each test gets a prefix of its own, and a store timeout
// long enough that a loaded machine's slow answer does not detach a
// breaker mid-suite (bounds are the fault and hang tests' business).
func newOnRedis(tg *redistest.Target, opts ...StoreOption) newFunc {
	return func(t *testing.T, cfg Config) *Breaker {
		t.Helper()
		opts := append([]StoreOption{WithPrefix(tg.Prefix + t.Name() + ":"), WithTimeout(5 * time.Second)}, opts...)
		st, err := NewRedisStore(tg.Client, opts...)
		require.NoError(t, err)
		st.testClock = cfg.Clock
		t.Cleanup(func() { _ = st.Close() })
		if cfg.Name == "" {
			cfg.Name = "dep"
		}
		cfg.Store = st
		b, err := New(cfg)
		require.NoError(t, err)
		return b
	}
}

func TestConformanceMemory(t *testing.T) { runConformance(t, newMemory) }

func TestConformanceRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		runConformance(t, newOnRedis(tg))
	})
}

// runConformance is the behaviour every backend must have, one breaker at
// a time, exact under a fake clock.
func runConformance(t *testing.T, newB newFunc) {
	t.Run("ClosedRunsFnWithCallersContext", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now})
		type key struct{}
		ctx := context.WithValue(context.Background(), key{}, "v")
		for range 10 {
			err := b.Execute(ctx, func(got context.Context) error {
				assert.Equal(t, "v", got.Value(key{}))
				return nil
			})
			require.NoError(t, err)
		}
		require.Equal(t, Closed, b.State())
		m := b.Metrics()
		require.Equal(t, uint64(10), m.Calls)
		require.Equal(t, uint64(10), m.Successes)
	})

	t.Run("ConsecutiveFailuresOpen", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now})
		for range 4 {
			mustRun(t, b, fail)
		}
		mustRun(t, b, ok) // resets the run
		for range 4 {
			mustRun(t, b, fail)
			require.Equal(t, Closed, b.State())
		}
		require.Equal(t, 4, b.Metrics().ConsecutiveFailures)
		mustRun(t, b, fail)
		require.Equal(t, Open, b.State())
		mustReject(t, b, ErrOpen)
	})

	t.Run("OpenRejectsWithRemainingTime", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Name: "dep", Clock: clk.Now, FailureThreshold: 2, OpenTimeout: 10 * time.Second})
		mustRun(t, b, fail)
		mustRun(t, b, fail)
		clk.Advance(3 * time.Second)
		err := mustReject(t, b, ErrOpen)
		var oe *OpenError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, 7*time.Second, oe.RetryAfter())
		require.Equal(t, "dep", oe.Name)
		require.Contains(t, err.Error(), `"dep": circuit open, next probe in 7s`)
		clk.Advance(7*time.Second - time.Millisecond)
		mustReject(t, b, ErrOpen)
		require.Equal(t, uint64(2), b.Metrics().Rejections)
		clk.Advance(time.Millisecond)
		mustRun(t, b, ok)
		require.Equal(t, Closed, b.State())
	})

	t.Run("HalfOpenProbesConcurrentlyThenCloses", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenMaxCalls: 2})
		mustRun(t, b, fail)
		clk.Advance(time.Second)
		relp1, p1 := goCall(t, b)
		require.Equal(t, HalfOpen, b.State())
		relp2, p2 := goCall(t, b)
		mustReject(t, b, ErrTooManyCalls)
		relp1 <- nil
		require.NoError(t, recv(t, p1))
		require.Equal(t, HalfOpen, b.State(), "one probe of two succeeded")
		mustReject(t, b, ErrTooManyCalls) // the quota counts admitted probes, not running ones
		relp2 <- nil
		require.NoError(t, recv(t, p2))
		require.Equal(t, Closed, b.State())
		for range 4 {
			mustRun(t, b, ok)
		}
	})

	t.Run("FailedProbeReopens", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenMaxCalls: 2})
		mustRun(t, b, fail)
		clk.Advance(time.Second)
		relp1, p1 := goCall(t, b)
		relp2, p2 := goCall(t, b)
		relp1 <- errBoom
		require.ErrorIs(t, recv(t, p1), errBoom)
		require.Equal(t, Open, b.State())
		err := mustReject(t, b, ErrOpen)
		var oe *OpenError
		require.ErrorAs(t, err, &oe)
		require.Equal(t, time.Second, oe.RetryAfter(), "a full open period again")
		relp2 <- nil // the other probe's success is too late to count
		require.NoError(t, recv(t, p2))
		require.Equal(t, Open, b.State())
		clk.Advance(time.Second)
		mustRun(t, b, ok)
		require.Equal(t, HalfOpen, b.State())
		mustRun(t, b, ok)
		require.Equal(t, Closed, b.State())
	})

	t.Run("CanceledProbeGivesItsSlotBack", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second})
		mustRun(t, b, fail)
		clk.Advance(time.Second)
		mustRun(t, b, func(context.Context) error { return context.Canceled })
		require.Equal(t, HalfOpen, b.State())
		mustRun(t, b, ok) // the slot is free again
		require.Equal(t, Closed, b.State())
		require.Equal(t, uint64(1), b.Metrics().Ignored)
	})

	t.Run("LostProbeIsReplacedAfterOpenTimeout", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second})
		mustRun(t, b, fail)
		clk.Advance(time.Second)
		relstuck, stuck := goCall(t, b)
		clk.Advance(time.Second - time.Millisecond)
		mustReject(t, b, ErrTooManyCalls)
		clk.Advance(time.Millisecond)
		mustRun(t, b, ok) // the stuck probe is presumed lost
		require.Equal(t, Closed, b.State())
		relstuck <- errBoom // too late: its period is over
		require.ErrorIs(t, recv(t, stuck), errBoom)
		require.Equal(t, Closed, b.State())
	})

	t.Run("LateOutcomesDoNotCount", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 2, OpenTimeout: time.Second})
		rellate, late := goCall(t, b) // admitted while closed
		mustRun(t, b, fail)
		mustRun(t, b, fail)
		require.Equal(t, Open, b.State())
		clk.Advance(time.Second)
		mustRun(t, b, ok)
		require.Equal(t, Closed, b.State())
		mustRun(t, b, fail)
		rellate <- errBoom // from the first closed period: not the current run
		require.ErrorIs(t, recv(t, late), errBoom)
		require.Equal(t, Closed, b.State())
		require.Equal(t, 1, b.Metrics().ConsecutiveFailures)
		require.Equal(t, uint64(4), b.Metrics().Failures, "metrics count every call")
	})

	t.Run("Classification", func(t *testing.T) {
		clk := newFakeClock()
		errNotFound := errors.New("not found")
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 2,
			IsFailure: func(err error) bool { return !errors.Is(err, errNotFound) && !errors.Is(err, context.Canceled) }})
		mustRun(t, b, fail)
		mustRun(t, b, func(context.Context) error { return context.Canceled }) // neither
		require.Equal(t, 1, b.Metrics().ConsecutiveFailures)
		mustRun(t, b, func(context.Context) error { return fmt.Errorf("get: %w", errNotFound) }) // a success
		require.Equal(t, 0, b.Metrics().ConsecutiveFailures)
		mustRun(t, b, fail)
		mustRun(t, b, func(context.Context) error { return context.DeadlineExceeded })
		require.Equal(t, Open, b.State())
		m := b.Metrics()
		require.Equal(t, uint64(3), m.Failures)
		require.Equal(t, uint64(1), m.Successes)
		require.Equal(t, uint64(1), m.Ignored)
		require.Equal(t, uint64(5), m.Calls)
	})

	t.Run("DefaultIsFailureIgnoresCanceled", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1})
		for range 3 {
			mustRun(t, b, func(context.Context) error { return fmt.Errorf("op: %w", context.Canceled) })
		}
		require.Equal(t, Closed, b.State())
		mustRun(t, b, func(context.Context) error { return context.DeadlineExceeded })
		require.Equal(t, Open, b.State())
	})

	t.Run("PanicIsAFailureAndIsReRaised", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 2, OpenTimeout: time.Second})
		for range 2 {
			require.PanicsWithValue(t, "kaboom", func() {
				_ = b.Execute(context.Background(), func(context.Context) error { panic("kaboom") })
			})
		}
		require.Equal(t, Open, b.State())
		require.Equal(t, uint64(2), b.Metrics().Failures)
		clk.Advance(time.Second)
		require.Panics(t, func() {
			_ = b.Execute(context.Background(), func(context.Context) error { panic("probe") })
		})
		require.Equal(t, Open, b.State(), "a panicking probe re-opens")
	})

	t.Run("FailureRateOverCountWindow", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1000, FailureRateThreshold: 0.5, WindowSize: 10, MinimumCalls: 6})
		// 3 failures in 5 calls: 60%, but fewer than MinimumCalls.
		for _, f := range []bool{true, false, true, false, true} {
			mustRun(t, b, map[bool]func(context.Context) error{true: fail, false: ok}[f])
		}
		require.Equal(t, Closed, b.State())
		m := b.Metrics()
		require.Equal(t, 5, m.WindowCalls)
		require.InDelta(t, 0.6, m.FailureRate, 1e-9)
		mustRun(t, b, ok) // 3 of 6: 50% reaches the threshold
		require.Equal(t, Open, b.State())
	})

	t.Run("CountWindowForgetsOldCalls", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1000, FailureRateThreshold: 0.3, WindowSize: 10})
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
		require.Equal(t, Closed, b.State(), "2 of the last 10")
		mustRun(t, b, fail)
		require.Equal(t, Open, b.State(), "3 of the last 10 is 30%")
	})

	t.Run("SlowCallRate", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, OpenTimeout: time.Second, SlowCallRateThreshold: 0.5, SlowCallDuration: 100 * time.Millisecond, WindowSize: 4})
		slow := func(context.Context) error { clk.Advance(101 * time.Millisecond); return nil }
		atLimit := func(context.Context) error { clk.Advance(100 * time.Millisecond); return nil }
		mustRun(t, b, slow)
		mustRun(t, b, atLimit) // not slower than SlowCallDuration
		mustRun(t, b, atLimit)
		require.Equal(t, Closed, b.State())
		require.Equal(t, uint64(1), b.Metrics().SlowCalls)
		mustRun(t, b, slow)
		require.Equal(t, Open, b.State())
		require.Equal(t, 0.5, b.Metrics().SlowCallRate)
		clk.Advance(time.Second)
		mustRun(t, b, slow) // a slow probe counts as failed
		require.Equal(t, Open, b.State())
		clk.Advance(time.Second)
		mustRun(t, b, ok)
		require.Equal(t, Closed, b.State())
		require.Equal(t, 0, b.Metrics().WindowCalls, "closing empties the window")
	})

	t.Run("TimeWindow", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1000, FailureRateThreshold: 0.5, WindowDuration: 10 * time.Second, MinimumCalls: 4})
		for range 3 {
			mustRun(t, b, fail)
		}
		clk.Advance(10 * time.Second) // those drop out
		require.Equal(t, 0, b.Metrics().WindowCalls)
		mustRun(t, b, fail)
		mustRun(t, b, ok)
		mustRun(t, b, ok)
		require.Equal(t, Closed, b.State())
		clk.Advance(5 * time.Second)
		mustRun(t, b, ok)
		m := b.Metrics()
		require.Equal(t, 4, m.WindowCalls)
		require.Equal(t, 0.25, m.FailureRate)
		mustRun(t, b, fail)
		mustRun(t, b, fail) // 3 of 6
		require.Equal(t, Open, b.State())
	})

	t.Run("MetricsAndHooks", func(t *testing.T) {
		clk := newFakeClock()
		var h hookLog
		b := newB(t, Config{Name: "svc", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, OnStateChange: h.hook})
		require.True(t, b.Metrics().LastTransition.IsZero())
		mustRun(t, b, fail)
		opened := clk.Now()
		mustReject(t, b, ErrOpen)
		clk.Advance(time.Second)
		mustRun(t, b, ok)
		require.Equal(t, []string{"svc:closed->open", "svc:open->half-open", "svc:half-open->closed"}, h.get())
		m := b.Metrics()
		require.Equal(t, Metrics{
			Name: "svc", State: Closed, Calls: 2, Successes: 1, Failures: 1, Rejections: 1,
			Transitions: 3, LastTransition: opened.Add(time.Second),
		}, m)
	})

	t.Run("HookMayCallTheBreaker", func(t *testing.T) {
		clk := newFakeClock()
		var b *Breaker
		var states []State
		b = newB(t, Config{Clock: clk.Now, FailureThreshold: 1, OnStateChange: func(_ string, _, to State) {
			states = append(states, b.State())
			_ = b.Execute(context.Background(), ok) // refused while open; must not deadlock
		}})
		mustRun(t, b, fail)
		require.Equal(t, []State{Open}, states)
	})

	// State and Metrics report half-open once OpenTimeout has passed, with
	// no call needed (a dashboard polling them is not misled), and the
	// hooks see each transition exactly once (issue 14).
	t.Run("HalfOpenIsReportedWithoutACall", func(t *testing.T) {
		clk := newFakeClock()
		h := &hookLog{}
		var kinds []string
		b := newB(t, Config{Name: "svc", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second,
			OnStateChange: h.hook, Observer: func(e Event) {
				if e.Kind == EventStateChange {
					kinds = append(kinds, e.From.String()+"->"+e.To.String())
				}
			}})
		mustRun(t, b, fail)
		clk.Advance(time.Second - time.Millisecond)
		require.Equal(t, Open, b.State())
		require.Equal(t, Open, b.Metrics().State)
		clk.Advance(time.Millisecond)
		require.Equal(t, HalfOpen, b.Metrics().State)
		for range 3 {
			require.Equal(t, HalfOpen, b.State())
		}
		require.Equal(t, uint64(2), b.Metrics().Transitions)
		require.Equal(t, []string{"svc:closed->open", "svc:open->half-open"}, h.get())

		// The observed half-open period is a real one: its probe quota holds,
		// and its first call is the probe, without another transition.
		rel, res := goCall(t, b)
		mustReject(t, b, ErrTooManyCalls)
		rel <- nil
		require.NoError(t, recv(t, res))
		require.Equal(t, Closed, b.State())
		want := []string{"closed->open", "open->half-open", "half-open->closed"}
		require.Equal(t, want, kinds)
		require.Equal(t, []string{"svc:closed->open", "svc:open->half-open", "svc:half-open->closed"}, h.get())
		require.Equal(t, uint64(3), b.Metrics().Transitions)
	})

	// A probe that fails re-opens for a full OpenTimeout, after which the
	// state reads half-open again, without a call.
	t.Run("HalfOpenAgainAfterAFailedProbe", func(t *testing.T) {
		clk := newFakeClock()
		h := &hookLog{}
		b := newB(t, Config{Name: "svc", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, OnStateChange: h.hook})
		mustRun(t, b, fail)
		clk.Advance(time.Second)
		require.Equal(t, HalfOpen, b.State())
		mustRun(t, b, fail)
		require.Equal(t, Open, b.State())
		clk.Advance(time.Second - time.Nanosecond)
		require.Equal(t, Open, b.State())
		clk.Advance(time.Nanosecond)
		require.Equal(t, HalfOpen, b.State())
		require.Equal(t, []string{"svc:closed->open", "svc:open->half-open", "svc:half-open->open", "svc:open->half-open"}, h.get())
	})

	// A nil fn is the caller's bug: an error in every state, never a
	// panic, and nothing counted (issue 12, defect 11).
	t.Run("NilFnIsAnErrorNotAFailure", func(t *testing.T) {
		clk := newFakeClock()
		b := newB(t, Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second})
		nilCalls := func(want State) {
			t.Helper()
			before := b.Metrics()
			require.NotPanics(t, func() {
				require.ErrorIs(t, b.Execute(context.Background(), nil), ErrNilFunc)
				v, err := Do[int](context.Background(), b, nil)
				require.ErrorIs(t, err, ErrNilFunc)
				require.Zero(t, v)
			})
			require.Equal(t, before, b.Metrics(), "nothing counted")
			require.Equal(t, want, b.State())
		}
		nilCalls(Closed)
		mustRun(t, b, fail)
		nilCalls(Open)
		clk.Advance(time.Second)
		nilCalls(HalfOpen) // the open period is over; a nil fn is not a probe: the next real call is
		rel, res := goCall(t, b)
		require.Equal(t, HalfOpen, b.State())
		nilCalls(HalfOpen)
		rel <- nil
		require.NoError(t, recv(t, res))
		require.Equal(t, Closed, b.State())
	})
}

// TestConcurrentUse hammers one breaker from many goroutines through every
// state, for the race detector and the invariants.
func TestConcurrentUse(t *testing.T) {
	clk := newFakeClock()
	b, err := New(Config{Clock: clk.Now, FailureThreshold: 3, OpenTimeout: time.Millisecond, HalfOpenMaxCalls: 2,
		FailureRateThreshold: 0.5, WindowSize: 20})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var calls, refused sync.Map
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				err := b.Execute(context.Background(), func(context.Context) error {
					if (i/40+g)%3 != 0 {
						return errBoom
					}
					return nil
				})
				if errors.Is(err, ErrOpen) || errors.Is(err, ErrTooManyCalls) {
					refused.Store(g*10000+i, true)
				} else {
					calls.Store(g*10000+i, true)
				}
				if i%50 == 0 {
					clk.Advance(time.Millisecond)
					_ = b.Metrics()
				}
			}
		}()
	}
	wg.Wait()
	m := b.Metrics()
	n := func(m *sync.Map) (c uint64) { m.Range(func(any, any) bool { c++; return true }); return c }
	require.Equal(t, n(&calls), m.Calls)
	require.Equal(t, n(&refused), m.Rejections)
	require.Equal(t, uint64(16000), m.Calls+m.Rejections)
	require.Positive(t, m.Transitions)
}
