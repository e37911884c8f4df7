package ratelimittest

import (
	"context"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/ratelimit"
)

// Cases are the conformance cases TestLimiter runs, in order.
var Cases = append(sequenceCases(),
	Case{"RetryAfter is exact", retryAfterExact},
	Case{"concurrent calls admit exactly the limit", concurrentExactlyTheLimit},
	Case{"keys are independent", keysIndependent},
	Case{"bad requests are errors and consume nothing", badRequests},
	Case{"ResetAfter ends at the idle state", resetAfter},
	Case{"a clock stepping back grants nothing", clockStepsBack},
	Case{"sliding log never exceeds the rate", slidingLogNeverExceeds},
	Case{"large n costs one step", largeN},
	Case{"peek spends nothing", peekSpendsNothing},
)

// retryAfterExact: under random traffic, a denied request retried after
// exactly RetryAfter is allowed, and one microsecond earlier it is still
// denied (denied requests consume nothing, so probing is free).
func retryAfterExact(t *testing.T, f Features, b Backend) {
	needClock(t, b)
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		lim := r.limiter(alg, limitFor(alg))
		rng := rand.New(rand.NewSource(int64(alg)))
		ctx := context.Background()
		denials := 0
		for i := 0; i < 150; i++ {
			r.advance(time.Duration(rng.Intn(120_000)) * time.Microsecond)
			n := 1 + rng.Intn(3)
			d, err := lim.AllowN(ctx, "k", n)
			require.NoError(t, err)
			require.GreaterOrEqual(t, d.RetryAfter, time.Duration(0))
			require.GreaterOrEqual(t, d.Remaining, 0)
			if d.Allowed {
				require.Zero(t, d.RetryAfter, "allowed with a RetryAfter")
				continue
			}
			denials++
			require.Positive(t, d.RetryAfter, "denied with no RetryAfter")
			if d.RetryAfter > time.Microsecond {
				r.advance(d.RetryAfter - time.Microsecond)
				early, err := lim.AllowN(ctx, "k", n)
				require.NoError(t, err)
				require.False(t, early.Allowed, "allowed 1µs before RetryAfter %s (request %d, n=%d)", d.RetryAfter, i, n)
				r.advance(time.Microsecond)
			} else {
				r.advance(d.RetryAfter)
			}
			again, err := lim.AllowN(ctx, "k", n)
			require.NoError(t, err)
			require.True(t, again.Allowed, "denied after waiting RetryAfter %s (request %d, n=%d)", d.RetryAfter, i, n)
		}
		require.Greater(t, denials, 10, "traffic too light to exercise denials")
	})
}

// concurrentExactlyTheLimit: 64 goroutines hammering one key at one
// instant get exactly the limit, no more, no less. The hour-long period
// keeps a real clock from refilling a unit during the case.
func concurrentExactlyTheLimit(t *testing.T, f Features, b Backend) {
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		l := ratelimit.Limit{Rate: 100, Period: time.Hour}
		lim := r.limiter(alg, l)
		r.align(time.Hour)
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for g := 0; g < 64; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5; i++ {
					d, err := lim.Allow(context.Background(), "hot")
					if !assert.NoError(t, err) {
						return
					}
					if d.Allowed {
						allowed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, l.Rate, allowed.Load(), "admitted of 320 concurrent calls")
	})
}

func keysIndependent(t *testing.T, f Features, b Backend) {
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		lim := r.limiter(alg, ratelimit.Limit{Rate: 2, Period: time.Hour})
		r.align(time.Hour)
		ctx := context.Background()
		for _, key := range []string{"a", "b", "a:b", "{a}", "", "ünï cöde\n"} {
			d, err := lim.AllowN(ctx, key, 2)
			require.NoError(t, err)
			require.True(t, d.Allowed, "key %q", key)
			d, err = lim.Allow(ctx, key)
			require.NoError(t, err)
			require.False(t, d.Allowed, "key %q", key)
		}
	})
}

func badRequests(t *testing.T, f Features, b Backend) {
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		lim := r.limiter(alg, ratelimit.Limit{Rate: 5, Period: time.Hour})
		ctx := context.Background()
		for _, n := range []int{0, -1, -1 << 40} {
			d, err := lim.AllowN(ctx, "k", n)
			require.ErrorIs(t, err, ratelimit.ErrInvalidRequest, "n=%d", n)
			require.False(t, d.Allowed, "n=%d", n)
		}
		d, err := lim.AllowN(ctx, "k", 6)
		require.ErrorIs(t, err, ratelimit.ErrExceedsLimit, "n above the limit")
		require.False(t, d.Allowed)
		d, err = lim.AllowN(ctx, "k", 5)
		require.NoError(t, err)
		require.True(t, d.Allowed, "the refused calls consumed something")
	})
}

// resetAfter: after the last admitted request, the key is back to idle
// exactly when ResetAfter says: a request then sees the full Remaining a
// fresh key reports.
func resetAfter(t *testing.T, f Features, b Backend) {
	needClock(t, b)
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		lim := r.limiter(alg, limitFor(alg))
		ctx := context.Background()
		fresh, err := lim.Allow(ctx, "fresh")
		require.NoError(t, err)
		d, err := lim.AllowN(ctx, "k", 3)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.Positive(t, d.ResetAfter)
		r.advance(d.ResetAfter)
		d, err = lim.Allow(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, fresh.Remaining, d.Remaining, "not idle after ResetAfter")
	})
}

// clockStepsBack: a clock that jumps backwards grants nothing extra (time
// is held still), and the limiter carries on when it moves forward.
func clockStepsBack(t *testing.T, f Features, b Backend) {
	needClock(t, b)
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		lim := r.limiter(alg, ratelimit.Limit{Rate: 4, Period: time.Second})
		ctx := context.Background()
		d, err := lim.AllowN(ctx, "k", 4)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		r.advance(-10 * time.Second)
		for i := 0; i < 3; i++ {
			d, err = lim.Allow(ctx, "k")
			require.NoError(t, err)
			require.False(t, d.Allowed, "allowed after the clock stepped back")
			r.advance(100 * ms)
		}
		r.advance(12 * time.Second)
		d, err = lim.AllowN(ctx, "k", 4)
		require.NoError(t, err)
		require.True(t, d.Allowed, "not recovered after the clock moved on")
	})
}

// slidingLogNeverExceeds: dense traffic, microseconds apart, with mixed n:
// no interval of length Period ever holds more than Rate admitted units.
// (On real Redis this caught members named by %.14g-rounded timestamps,
// which collided and undercounted.)
func slidingLogNeverExceeds(t *testing.T, f Features, b Backend) {
	if !f.has(ratelimit.SlidingWindowLog) {
		t.Skip("ratelimittest: the backend does not implement SlidingWindowLog (Features.Algorithms)")
	}
	needClock(t, b)
	const rate, period = 3, 10 * time.Microsecond
	r := newRun(t, b)
	lim := r.limiter(ratelimit.SlidingWindowLog, ratelimit.Limit{Rate: rate, Period: period})
	rng := rand.New(rand.NewSource(7))
	type admission struct {
		at time.Duration
		n  int
	}
	var admitted []admission
	at := time.Duration(0)
	for i := 0; i < 300; i++ {
		at += time.Duration(1+rng.Intn(4)) * time.Microsecond
		r.at(at)
		n := 1 + rng.Intn(2)
		d, err := lim.AllowN(context.Background(), "k", n)
		require.NoError(t, err)
		if d.Allowed {
			admitted = append(admitted, admission{at, n})
		}
	}
	require.Greater(t, len(admitted), 50)
	for _, from := range admitted {
		units := 0
		for _, a := range admitted {
			if a.at >= from.at && a.at < from.at+period {
				units += a.n
			}
		}
		require.LessOrEqual(t, units, rate, "more than Rate in the Period from %s", from.at)
	}
}

// largeN: a byte-rate limit with n in the millions is decided exactly
// (and, on every backend, in one step per request, not per unit).
func largeN(t *testing.T, f Features, b Backend) {
	needClock(t, b) // a moving clock refills a bucket between the requests
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		lim := r.limiter(alg, ratelimit.Limit{Rate: 10_000_000, Period: time.Minute})
		r.align(time.Minute)
		ctx := context.Background()
		for i, want := range []struct {
			allowed   bool
			remaining int
		}{{true, 6_000_000}, {true, 2_000_000}, {false, 2_000_000}} {
			d, err := lim.AllowN(ctx, "bytes", 4_000_000)
			require.NoError(t, err)
			require.Equal(t, want.allowed, d.Allowed, "request %d", i)
			require.Equal(t, want.remaining, d.Remaining, "request %d", i)
		}
	})
}
