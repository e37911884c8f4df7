package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// funcLimiter is a Limiter whose answers the test scripts; it counts calls.
type funcLimiter struct {
	fn    func(ctx context.Context, key string, n int) (Decision, error)
	calls atomic.Int64
}

func (f *funcLimiter) Allow(ctx context.Context, key string) (Decision, error) {
	return f.AllowN(ctx, key, 1)
}

func (f *funcLimiter) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	f.calls.Add(1)
	return f.fn(ctx, key, n)
}

// answering returns a funcLimiter that always answers d, err.
func answering(d Decision, err error) *funcLimiter {
	return &funcLimiter{fn: func(context.Context, string, int) (Decision, error) { return d, err }}
}

// degradeCounter is a WithOnDegrade hook that records what it saw.
type degradeCounter struct {
	n    atomic.Int64
	last atomic.Value // error
}

func (c *degradeCounter) option() WrapOption {
	return WithOnDegrade(func(_ context.Context, err error) {
		c.n.Add(1)
		c.last.Store(err)
	})
}

// wrapperClock gives wrapper l a fake clock, to step through its cooldown.
func wrapperClock(t *testing.T, l Limiter) *fakeClock {
	t.Helper()
	w, ok := l.(*wrapper)
	require.True(t, ok, "not a wrapper: %T", l)
	clk := newFakeClock()
	w.now, w.base = clk.Now, clk.Now()
	return clk
}

var (
	errDown    = errors.New("backend down")
	wrapLimit  = Limit{Rate: 10, Period: time.Second, Burst: 10}
	shareLimit = Limit{Rate: 2, Period: time.Second, Burst: 2}
)

// wrapperCases builds each wrapper around primary; for Fallback the
// secondary is returned too (nil otherwise).
var wrapperCases = []struct {
	name string
	wrap func(primary Limiter, opts ...WrapOption) (Limiter, *funcLimiter)
}{
	{"Fallback", func(p Limiter, opts ...WrapOption) (Limiter, *funcLimiter) {
		s := answering(Decision{Allowed: true, Limit: shareLimit, Remaining: 1}, nil)
		return Fallback(p, s, opts...), s
	}},
	{"FailOpen", func(p Limiter, opts ...WrapOption) (Limiter, *funcLimiter) { return FailOpen(p, opts...), nil }},
	{"FailClosed", func(p Limiter, opts ...WrapOption) (Limiter, *funcLimiter) { return FailClosed(p, opts...), nil }},
}

func TestWrappersPassDecisionsThrough(t *testing.T) {
	for _, tc := range wrapperCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, want := range []Decision{
				{Allowed: true, Limit: wrapLimit, Remaining: 7, ResetAfter: 300 * time.Millisecond},
				{Allowed: false, Limit: wrapLimit, RetryAfter: 100 * time.Millisecond, ResetAfter: time.Second},
			} {
				var hook degradeCounter
				w, secondary := tc.wrap(answering(want, nil), hook.option())
				got, err := w.AllowN(context.Background(), "k", 3)
				require.NoError(t, err)
				require.Equal(t, want, got, "a working limiter's decision, denials included, is the answer")
				require.Zero(t, hook.n.Load())
				if secondary != nil {
					require.Zero(t, secondary.calls.Load(), "secondary is asked only when primary fails")
				}
			}
		})
	}
}

func TestWrappersDegradeWhenTheLimiterFails(t *testing.T) {
	failing := func() *funcLimiter {
		return answering(Decision{Limit: wrapLimit}, fmt.Errorf("ratelimit: redis: %w", errDown))
	}
	want := map[string]Decision{
		"Fallback":   {Allowed: true, Limit: shareLimit, Remaining: 1},
		"FailOpen":   {Allowed: true, Limit: wrapLimit},
		"FailClosed": {Allowed: false, Limit: wrapLimit, RetryAfter: time.Second, ResetAfter: time.Second},
	}
	for _, tc := range wrapperCases {
		t.Run(tc.name, func(t *testing.T) {
			var hook degradeCounter
			w, secondary := tc.wrap(failing(), hook.option())
			for i := 1; i <= 3; i++ {
				d, err := w.Allow(context.Background(), "k")
				require.NoError(t, err, "a degraded answer is an answer")
				require.Equal(t, want[tc.name], d)
				require.EqualValues(t, i, hook.n.Load(), "every degraded answer is observable")
				require.ErrorIs(t, hook.last.Load().(error), errDown)
			}
			if secondary != nil {
				require.EqualValues(t, 3, secondary.calls.Load())
			}
		})
	}
}

func TestWrappersDegradeWithoutAHook(t *testing.T) {
	d, err := FailOpen(answering(Decision{Limit: wrapLimit}, errDown)).Allow(context.Background(), "k")
	require.NoError(t, err)
	require.True(t, d.Allowed)
}

func TestFallbackAsksSecondaryWithTheSameRequest(t *testing.T) {
	var gotKey string
	var gotN int
	secondary := &funcLimiter{fn: func(_ context.Context, key string, n int) (Decision, error) {
		gotKey, gotN = key, n
		return Decision{Allowed: true, Limit: shareLimit}, nil
	}}
	_, err := Fallback(answering(Decision{}, errDown), secondary).AllowN(context.Background(), "user:42", 2)
	require.NoError(t, err)
	require.Equal(t, "user:42", gotKey)
	require.Equal(t, 2, gotN)
}

func TestFallbackWhenBothFail(t *testing.T) {
	errLocal := errors.New("local limiter full")
	var hook degradeCounter
	_, err := Fallback(answering(Decision{}, errDown), answering(Decision{}, errLocal), hook.option()).Allow(context.Background(), "k")
	require.ErrorIs(t, err, errLocal)
	require.ErrorIs(t, err, errDown)
	require.EqualValues(t, 1, hook.n.Load(), "the primary's failure was still a degradation")
}

func TestWrappersPassCallerAndConfigErrorsThrough(t *testing.T) {
	for _, sentinel := range []error{ErrInvalidRequest, ErrExceedsLimit, ErrInvalidConfig, ErrTooManyKeys} {
		for _, tc := range wrapperCases {
			t.Run(tc.name+"/"+sentinel.Error(), func(t *testing.T) {
				callerErr := fmt.Errorf("%w: n=99", sentinel)
				var hook degradeCounter
				w, secondary := tc.wrap(answering(Decision{Limit: wrapLimit}, callerErr), hook.option())
				d, err := w.AllowN(context.Background(), "k", 99)
				require.True(t, err == callerErr, "the error must be returned unchanged, got %v", err)
				require.Equal(t, Decision{Limit: wrapLimit}, d)
				require.Zero(t, hook.n.Load())
				if secondary != nil {
					require.Zero(t, secondary.calls.Load())
				}
			})
		}
	}
}

func TestWrappersPassRealCallerErrorsThrough(t *testing.T) {
	m, err := NewMemory(TokenBucket, PerSecond(5))
	require.NoError(t, err)
	for _, tc := range wrapperCases {
		w, _ := tc.wrap(m)
		_, err := w.AllowN(context.Background(), "k", 0)
		require.ErrorIs(t, err, ErrInvalidRequest, tc.name)
		_, err = w.AllowN(context.Background(), "k", 6)
		require.ErrorIs(t, err, ErrExceedsLimit, tc.name)
	}
}

func TestWrappersReturnTheCallersCancellation(t *testing.T) {
	for _, tc := range wrapperCases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var hook degradeCounter
			w, secondary := tc.wrap(answering(Decision{Limit: wrapLimit}, errDown), hook.option())
			_, err := w.Allow(ctx, "k")
			require.ErrorIs(t, err, context.Canceled)
			require.ErrorIs(t, err, errDown, "the limiter's error is kept for diagnosis")
			require.Zero(t, hook.n.Load(), "a caller giving up is not a degradation")
			if secondary != nil {
				require.Zero(t, secondary.calls.Load())
			}

			// A limiter that already reports the caller's own error is returned as is.
			ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
			defer cancel()
			<-ctx.Done()
			ownErr := fmt.Errorf("ratelimit: redis: %w", context.DeadlineExceeded)
			w, _ = tc.wrap(answering(Decision{}, ownErr))
			_, err = w.Allow(ctx, "k")
			require.True(t, err == ownErr, "got %v", err)
		})
	}
}

// The limiter's own timeout (WithTimeout) is a failure, not the caller's
// cancellation: the caller's ctx is still live, so the wrapper degrades.
func TestWrappersDegradeOnTheLimitersOwnTimeout(t *testing.T) {
	var hook degradeCounter
	d, err := FailOpen(answering(Decision{Limit: wrapLimit}, fmt.Errorf("ratelimit: redis: %w", context.DeadlineExceeded)), hook.option()).
		Allow(context.Background(), "k")
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.EqualValues(t, 1, hook.n.Load())
}

func TestWrappersInvalidConfig(t *testing.T) {
	var typedNil *Memory
	ok := answering(Decision{Allowed: true}, nil)
	cases := map[string]Limiter{
		"nil primary":       Fallback(nil, ok),
		"typed nil primary": FailOpen(typedNil),
		"nil secondary":     Fallback(ok, nil),
		"nil FailClosed":    FailClosed(nil),
		"nil option":        FailOpen(ok, nil),
		"nil hook":          FailClosed(ok, WithOnDegrade(nil)),
		// An outer wrapper must not turn an inner one's config error into
		// allow-everything.
		"nested": FailOpen(Fallback(nil, ok)),
	}
	for name, l := range cases {
		t.Run(name, func(t *testing.T) {
			for range 2 {
				_, err := l.Allow(context.Background(), "k")
				require.ErrorIs(t, err, ErrInvalidConfig)
			}
		})
	}
}

// Against every Redis target: the wrapper answers while the connection is
// cut, and the Redis limiter answers again, with its state intact, once the
// connection heals, without anyone resetting anything.
func TestFallbackRedisOutage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		// Per hour, so a real server's moving clock refills nothing meanwhile.
		fleet := Limit{Rate: 5, Period: time.Hour}
		share := Limit{Rate: 2, Period: time.Hour}
		primary, err := NewRedis(tg.Client, TokenBucket, fleet, WithPrefix(tg.Prefix), WithTimeout(50*time.Millisecond))
		require.NoError(t, err)
		clk := time.Unix(1_700_000_000, 0)
		secondary, err := NewMemory(TokenBucket, share, WithClock(func() time.Time { return clk }))
		require.NoError(t, err)
		var hook degradeCounter
		l := Fallback(primary, secondary, hook.option())
		wclk := wrapperClock(t, l)

		for want := 4; want >= 2; want-- {
			d, err := l.Allow(ctx, "user")
			require.NoError(t, err)
			require.Equal(t, primary.Limit(), d.Limit, "Redis decides while it is reachable")
			require.Equal(t, want, d.Remaining)
		}
		require.Zero(t, hook.n.Load())

		tg.Cut()
		for i, allowed := range []bool{true, true, false} {
			d, err := l.Allow(ctx, "user")
			require.NoError(t, err)
			require.Equal(t, secondary.Limit(), d.Limit, "the local share decides while Redis is cut")
			require.Equal(t, allowed, d.Allowed, "request %d", i)
		}
		require.EqualValues(t, 3, hook.n.Load())

		tg.Heal()
		d, err := l.Allow(ctx, "user")
		require.NoError(t, err)
		require.Equal(t, secondary.Limit(), d.Limit, "within the cooldown Redis is not asked")
		wclk.Advance(DefaultCooldown)
		d, err = l.Allow(ctx, "user")
		require.NoError(t, err)
		require.Equal(t, primary.Limit(), d.Limit, "Redis decides again once the cooldown is over")
		require.True(t, d.Allowed)
		require.Equal(t, 1, d.Remaining, "Redis kept its count through the outage")
		require.EqualValues(t, 4, hook.n.Load())
	})
}

// TestFailOpenAndFailClosedRedisOutage: while Redis is cut off FailOpen
// allows and FailClosed denies, each reporting the outage once; once
// Redis is back and the cooldown is over, Redis decides again, with the
// counts it kept. The timing of a cut-off call is TestWrappersRedisHang's
// and the fault suite's business, not this test's: here every call that
// reaches Redis must be answered by Redis, so the bound is generous (a
// process stalled for 50ms at load 20 must not turn a healthy call into
// an outage), and a cut call fails at once (one dial, no retry) rather
// than after go-redis's dial retries.
func TestFailOpenAndFailClosedRedisOutage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		r, err := NewRedis(failFastClient(t, tg), FixedWindow, PerHour(1), WithPrefix(tg.Prefix), WithTimeout(2*time.Second))
		require.NoError(t, err)
		// Mid-window on a fixed clock: a real server's hour boundary
		// passing during the test would give "k" a fresh window.
		now := time.Unix(1_700_000_000, 0).Truncate(time.Hour).Add(30 * time.Minute)
		SetRedisClock(r, func() time.Time { return now })
		var hook degradeCounter
		open, closed := FailOpen(r, hook.option()), FailClosed(r, hook.option())
		openClock, closedClock := wrapperClock(t, open), wrapperClock(t, closed)

		d, err := open.Allow(ctx, "k")
		require.NoError(t, err)
		require.True(t, d.Allowed)
		d, err = closed.Allow(ctx, "k")
		require.NoError(t, err)
		require.False(t, d.Allowed, "Redis denies the second request")
		require.Greater(t, d.RetryAfter, FailClosedRetryAfter, "a real denial waits for the window")

		tg.Cut()
		d, err = open.Allow(ctx, "k")
		require.NoError(t, err)
		require.True(t, d.Allowed, "fail open: allowed while Redis is unreachable")
		require.Equal(t, r.Limit(), d.Limit)
		d, err = closed.Allow(ctx, "other")
		require.NoError(t, err)
		require.False(t, d.Allowed, "fail closed: denied while Redis is unreachable, even a fresh key")
		require.Equal(t, FailClosedRetryAfter, d.RetryAfter)
		require.EqualValues(t, 2, hook.n.Load())

		tg.Heal()
		openClock.Advance(DefaultCooldown)
		closedClock.Advance(DefaultCooldown)
		start := time.Now()
		d, err = open.Allow(ctx, "k")
		require.NoError(t, err)
		require.False(t, d.Allowed, "Redis decides again: the key is still exhausted")
		d, err = closed.Allow(ctx, "other")
		require.NoError(t, err)
		require.True(t, d.Allowed, "Redis decides again: the fresh key is allowed")
		require.EqualValues(t, 2, hook.n.Load())
		// Generous is not unbounded: reconnecting and two decisions on a
		// healthy Redis take well under the 2s bound, beyond what the
		// process itself stood still.
		if elapsed, late := redistest.Late(start, time.Second); late {
			t.Fatalf("two decisions after the outage took %v", elapsed)
		}
	})
}

// failFastClient is another client of tg behind tg's faults, on which a
// call to a cut Redis fails at once: one dial attempt, no retries.
func failFastClient(t *testing.T, tg *redistest.Target) redis.UniversalClient {
	t.Helper()
	var c redis.UniversalClient
	switch tc := tg.Client.(type) {
	case *redis.Client:
		o := *tc.Options()
		o.DialerRetries, o.MaxRetries = 1, -1
		c = redis.NewClient(&o)
	case *redis.ClusterClient:
		o := *tc.Options()
		o.DialerRetries, o.MaxRetries = 1, -1
		c = redis.NewClusterClient(&o)
	default:
		t.Fatalf("unexpected client %T", tg.Client)
	}
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err())
	return c
}

// A Redis that swallows commands costs each call the limiter's timeout, not
// the client's (1s here) nor forever, and the wrapper answers in time.
func TestWrappersRedisHang(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		r, err := NewRedis(tg.Client, TokenBucket, PerHour(5), WithPrefix(tg.Prefix), WithTimeout(50*time.Millisecond))
		require.NoError(t, err)
		var hook degradeCounter
		l := FailClosed(r, hook.option())
		clk := wrapperClock(t, l)
		// Connect and load the script while healthy, through a limiter on
		// the same bucket with a bound a loaded machine cannot miss: r's
		// 50ms could, and FailClosed would count that as a degradation.
		warm, err := NewRedis(tg.Client, TokenBucket, PerHour(5), WithPrefix(tg.Prefix), WithTimeout(30*time.Second))
		require.NoError(t, err)
		_, err = warm.Allow(ctx, "k")
		require.NoError(t, err)

		tg.Hang()
		for i := range 3 {
			start := time.Now()
			d, err := l.Allow(ctx, "k")
			elapsed := time.Since(start)
			require.NoError(t, err)
			require.False(t, d.Allowed)
			require.Equal(t, FailClosedRetryAfter, d.RetryAfter)
			require.Less(t, elapsed, 500*time.Millisecond, "bounded by WithTimeout, not the client's 1s read timeout")
			if i > 0 {
				require.Less(t, elapsed, 20*time.Millisecond, "within the cooldown the hung Redis is not asked")
			}
		}
		require.EqualValues(t, 3, hook.n.Load())

		tg.Heal()
		clk.Advance(DefaultCooldown)
		d, err := l.Allow(ctx, "k")
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.Equal(t, 3, d.Remaining, "Redis decides again after the hang")
	})
}

// TestCooldown: after a failure the wrapped limiter is not asked until the
// cooldown ends; then exactly one call probes it while the others are
// answered in its place; a good answer ends the outage for everyone.
func TestCooldown(t *testing.T) {
	for _, tc := range wrapperCases {
		t.Run(tc.name, func(t *testing.T) {
			var healthy atomic.Bool
			probing := make(chan struct{})
			release := make(chan struct{})
			inner := &funcLimiter{fn: func(ctx context.Context, key string, n int) (Decision, error) {
				if key == "probe" {
					close(probing)
					<-release
				}
				if healthy.Load() {
					return Decision{Allowed: true, Limit: wrapLimit}, nil
				}
				return Decision{}, errDown
			}}
			var hook degradeCounter
			l, _ := tc.wrap(inner, hook.option(), WithCooldown(time.Minute))
			clk := wrapperClock(t, l)
			ctx := context.Background()

			_, err := l.Allow(ctx, "k")
			require.NoError(t, err)
			require.EqualValues(t, 1, inner.calls.Load())
			for range 5 {
				clk.Advance(time.Minute / 10)
				_, err := l.Allow(ctx, "k")
				require.NoError(t, err)
			}
			require.EqualValues(t, 1, inner.calls.Load(), "asked during the cooldown")
			require.EqualValues(t, 6, hook.n.Load(), "every answer in its place is reported")
			require.ErrorIs(t, hook.last.Load().(error), errDown, "the hook cites the failure")

			clk.Advance(time.Minute)
			healthy.Store(true)
			done := make(chan struct{})
			go func() {
				defer close(done)
				d, err := l.Allow(ctx, "probe")
				require.NoError(t, err)
				require.Equal(t, wrapLimit, d.Limit, "the probe's answer is the limiter's")
			}()
			<-probing
			_, err = l.Allow(ctx, "k") // while the probe is out
			require.NoError(t, err)
			require.EqualValues(t, 2, inner.calls.Load(), "only one call probes")
			close(release)
			<-done
			d, err := l.Allow(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, wrapLimit, d.Limit, "after a good probe the limiter answers again")
			require.EqualValues(t, 3, inner.calls.Load())
		})
	}
}

func TestCooldownZeroAsksEveryTime(t *testing.T) {
	inner := answering(Decision{}, errDown)
	l := FailOpen(inner, WithCooldown(0))
	for range 3 {
		d, err := l.Allow(context.Background(), "k")
		require.NoError(t, err)
		require.True(t, d.Allowed)
	}
	require.EqualValues(t, 3, inner.calls.Load())
	_, err := FailOpen(inner, WithCooldown(-time.Second)).Allow(context.Background(), "k")
	require.ErrorIs(t, err, ErrInvalidConfig)
}
