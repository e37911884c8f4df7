package ratelimit

import (
	"context"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const ms = time.Millisecond

// step is one request at a time offset and the exact decision expected.
type step struct {
	at        time.Duration
	n         int
	times     int // repeat the same request; 0 means 1
	allowed   bool
	remaining int // of the last repetition
	retry     time.Duration
	delay     time.Duration
}

type scenario struct {
	name  string
	alg   Algorithm
	limit Limit
	steps []step
}

// Every scenario runs on every backend and must hold to the microsecond.
var scenarios = []scenario{
	{
		name: "fixed window: 11th at 0.999s denied, allowed at 1.000s", alg: FixedWindow, limit: PerSecond(10),
		steps: []step{
			{at: 0, n: 1, times: 10, allowed: true, remaining: 0},
			{at: 999 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
			{at: 1000 * ms, n: 1, allowed: true, remaining: 9},
			// the boundary spike the algorithm allows: 9 more at 1.999s, 10 at 2.000s
			{at: 1999 * ms, n: 9, allowed: true, remaining: 0},
			{at: 2000 * ms, n: 10, allowed: true, remaining: 0},
		},
	},
	{
		name: "token bucket: burst of 20, then 10/s", alg: TokenBucket, limit: Limit{Rate: 10, Period: time.Second, Burst: 20},
		steps: []step{
			{at: 0, n: 1, times: 20, allowed: true, remaining: 0},
			{at: 0, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 99 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
			{at: 100 * ms, n: 1, allowed: true, remaining: 0},
			{at: 1100 * ms, n: 1, allowed: true, remaining: 9},
			{at: 1100 * ms, n: 10, allowed: false, remaining: 9, retry: 100 * ms},
			{at: 1100 * ms, n: 9, allowed: true, remaining: 0},
			{at: 10 * time.Second, n: 20, allowed: true, remaining: 0},
		},
	},
	{
		name: "leaky bucket: queue of 3 leaves 100ms apart", alg: LeakyBucket, limit: Limit{Rate: 10, Period: time.Second, Burst: 3},
		steps: []step{
			{at: 0, n: 1, allowed: true, remaining: 2, delay: 0},
			{at: 0, n: 1, allowed: true, remaining: 1, delay: 100 * ms},
			{at: 0, n: 1, allowed: true, remaining: 0, delay: 200 * ms},
			{at: 0, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 100 * ms, n: 1, allowed: true, remaining: 0, delay: 200 * ms},
			{at: 150 * ms, n: 1, allowed: false, remaining: 0, retry: 50 * ms},
			{at: 400 * ms, n: 2, allowed: true, remaining: 1, delay: 100 * ms}, // queue drained at 400ms
		},
	},
	{
		name: "sliding log: a request stops counting exactly Period after it", alg: SlidingWindowLog, limit: PerSecond(3),
		steps: []step{
			{at: 0, n: 1, allowed: true, remaining: 2},
			{at: 500 * ms, n: 2, allowed: true, remaining: 0},
			{at: 600 * ms, n: 1, allowed: false, remaining: 0, retry: 400 * ms},
			{at: 999_999 * time.Microsecond, n: 1, allowed: false, remaining: 0, retry: time.Microsecond},
			{at: 1000 * ms, n: 1, allowed: true, remaining: 0},
			{at: 1000 * ms, n: 2, allowed: false, remaining: 0, retry: 500 * ms},
			{at: 1500 * ms, n: 2, allowed: true, remaining: 0},
			// no boundary spike: 3 more are refused until 2.0s
			{at: 1999 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
		},
	},
	{
		name: "sliding counter: previous window weighted exactly", alg: SlidingWindowCounter, limit: PerSecond(10),
		steps: []step{
			{at: 0, n: 1, times: 10, allowed: true, remaining: 0},
			{at: 1000 * ms, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 1099 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
			{at: 1100 * ms, n: 1, allowed: true, remaining: 0},
			{at: 1100 * ms, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 1500 * ms, n: 1, allowed: true, remaining: 3},
			// cur=2 of 10 in [1s,2s): at 2.0s the estimate is 2, then it decays:
			// 2·(1-0.5)+8+1 = 10 first holds at 2.5s
			{at: 2000 * ms, n: 8, allowed: true, remaining: 0},
			{at: 2000 * ms, n: 1, allowed: false, remaining: 0, retry: 500 * ms},
		},
	},
}

func TestExactSequences(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				lim := b.limiter(t, sc.alg, sc.limit)
				b.alignTo(time.Second)
				key := "user:" + sc.name
				for i, st := range sc.steps {
					b.at(t, st.at)
					var d Decision
					var err error
					for r := 0; r < max(st.times, 1); r++ {
						d, err = lim.AllowN(context.Background(), key, st.n)
						require.NoError(t, err)
						require.Equal(t, st.allowed, d.Allowed, "step %d (at %s, n=%d, repetition %d)", i, st.at, st.n, r)
					}
					assert.Equal(t, st.remaining, d.Remaining, "step %d remaining", i)
					assert.Equal(t, st.retry, d.RetryAfter, "step %d retry-after", i)
					assert.Equal(t, st.delay, d.Delay, "step %d delay", i)
					assert.Equal(t, sc.limit.Rate, d.Limit.Rate)
				}
			})
		}
	})
}

var allAlgorithms = []Algorithm{TokenBucket, LeakyBucket, FixedWindow, SlidingWindowLog, SlidingWindowCounter}

// limitFor gives each algorithm a limit small enough that random traffic
// hits it often.
func limitFor(alg Algorithm) Limit {
	if alg.bucket() {
		return Limit{Rate: 7, Period: 700 * ms, Burst: 5}
	}
	return Limit{Rate: 7, Period: 700 * ms}
}

// TestRetryAfterIsExact: under random traffic, a denied request retried
// after exactly RetryAfter is allowed, and one microsecond earlier it is
// still denied (denied requests consume nothing, so probing is free).
func TestRetryAfterIsExact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				lim := b.limiter(t, alg, limitFor(alg))
				rng := rand.New(rand.NewSource(int64(alg)))
				ctx := context.Background()
				denials := 0
				for i := 0; i < 150; i++ {
					b.advance(time.Duration(rng.Intn(120_000)) * time.Microsecond)
					n := 1 + rng.Intn(3)
					d, err := lim.AllowN(ctx, "k", n)
					require.NoError(t, err)
					require.GreaterOrEqual(t, d.RetryAfter, time.Duration(0))
					require.GreaterOrEqual(t, d.Remaining, 0)
					if d.Allowed {
						require.Zero(t, d.RetryAfter)
						continue
					}
					denials++
					require.Positive(t, d.RetryAfter, "denied with no RetryAfter")
					if d.RetryAfter > time.Microsecond {
						b.advance(d.RetryAfter - time.Microsecond)
						early, err := lim.AllowN(ctx, "k", n)
						require.NoError(t, err)
						require.False(t, early.Allowed, "allowed 1µs before RetryAfter %s (request %d, n=%d)", d.RetryAfter, i, n)
						b.advance(time.Microsecond)
					} else {
						b.advance(d.RetryAfter)
					}
					again, err := lim.AllowN(ctx, "k", n)
					require.NoError(t, err)
					require.True(t, again.Allowed, "denied after waiting RetryAfter %s (request %d, n=%d)", d.RetryAfter, i, n)
				}
				require.Greater(t, denials, 10, "traffic too light to exercise denials")
			})
		}
	})
}

// TestConcurrentExactlyTheLimit: 64 goroutines hammering one key at one
// instant get exactly the limit, no more, no less.
func TestConcurrentExactlyTheLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				l := Limit{Rate: 100, Period: time.Hour}
				lim := b.limiter(t, alg, l)
				b.alignTo(time.Hour)
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
				require.EqualValues(t, l.Rate, allowed.Load())
			})
		}
	})
}

func TestKeysAreIndependent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				lim := b.limiter(t, alg, Limit{Rate: 2, Period: time.Minute})
				b.alignTo(time.Minute)
				ctx := context.Background()
				for _, key := range []string{"a", "b", "a:b", "{a}", ""} {
					d, err := lim.AllowN(ctx, key, 2)
					require.NoError(t, err)
					require.True(t, d.Allowed, "key %q", key)
					d, err = lim.Allow(ctx, key)
					require.NoError(t, err)
					require.False(t, d.Allowed, "key %q", key)
				}
			})
		}
	})
}

func TestBadRequests(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			lim := b.limiter(t, alg, Limit{Rate: 5, Period: time.Second})
			for _, n := range []int{0, -1, -1 << 40} {
				d, err := lim.AllowN(context.Background(), "k", n)
				require.ErrorIs(t, err, ErrInvalidRequest, "%s n=%d", alg, n)
				require.False(t, d.Allowed)
			}
			d, err := lim.AllowN(context.Background(), "k", 6)
			require.ErrorIs(t, err, ErrExceedsLimit, "%s", alg)
			require.False(t, d.Allowed)
			// the refused calls consumed nothing
			d, err = lim.AllowN(context.Background(), "k", 5)
			require.NoError(t, err)
			require.True(t, d.Allowed, "%s", alg)
		}
	})
}

// TestResetAfter: after the last admitted request, the key is back to
// idle exactly when ResetAfter says: a full-size request is allowed then,
// with the full Remaining a fresh key would report.
func TestResetAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				l := limitFor(alg)
				lim := b.limiter(t, alg, l)
				fresh, err := lim.Allow(context.Background(), "fresh")
				require.NoError(t, err)
				d, err := lim.AllowN(context.Background(), "k", 3)
				require.NoError(t, err)
				require.True(t, d.Allowed)
				require.Positive(t, d.ResetAfter)
				b.advance(d.ResetAfter)
				d, err = lim.Allow(context.Background(), "k")
				require.NoError(t, err)
				require.Equal(t, fresh.Remaining, d.Remaining, "not idle after ResetAfter")
			})
		}
	})
}

// TestClockStepsBack: a clock that jumps backwards grants nothing extra
// (time is held still), and the limiter carries on when it moves forward —
// in memory and in the Redis scripts alike (a server's clock can be stepped
// by NTP too).
func TestClockStepsBack(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				lim := b.limiter(t, alg, Limit{Rate: 4, Period: time.Second})
				ctx := context.Background()
				d, err := lim.AllowN(ctx, "k", 4)
				require.NoError(t, err)
				require.True(t, d.Allowed)
				b.advance(-10 * time.Second)
				for i := 0; i < 3; i++ {
					d, err = lim.Allow(ctx, "k")
					require.NoError(t, err)
					require.False(t, d.Allowed, "allowed after the clock stepped back")
					b.advance(100 * ms)
				}
				b.advance(12 * time.Second)
				d, err = lim.AllowN(ctx, "k", 4)
				require.NoError(t, err)
				require.True(t, d.Allowed, "not recovered after the clock moved on")
			})
		}
	})
}

// TestSlidingLogNeverExceedsRate: dense traffic, microseconds apart, with
// mixed n: no interval of length Period ever holds more than Rate admitted
// units. (On real Redis this caught members named by %.14g-rounded
// timestamps, which collided and undercounted.)
func TestSlidingLogNeverExceedsRate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		const rate, period = 3, 10 * time.Microsecond
		lim := b.limiter(t, SlidingWindowLog, Limit{Rate: rate, Period: period})
		rng := rand.New(rand.NewSource(7))
		type admission struct {
			at time.Duration
			n  int
		}
		var admitted []admission
		at := time.Duration(0)
		for i := 0; i < 300; i++ {
			at += time.Duration(1+rng.Intn(4)) * time.Microsecond
			b.at(t, at)
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
	})
}

// TestLargeN: a byte-rate limit with n in the millions costs one step per
// request, not per unit, on every backend.
func TestLargeN(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				lim := b.limiter(t, alg, Limit{Rate: 10_000_000, Period: time.Minute})
				b.alignTo(time.Minute)
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
	})
}
