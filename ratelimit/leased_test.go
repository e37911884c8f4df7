package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/ratelimit"
)

// countingLimiter counts the calls that reach the shared limiter, and
// fails them while fail holds an error.
type countingLimiter struct {
	ratelimit.Limiter
	calls atomic.Int64
	fail  atomic.Pointer[error]
}

func (c *countingLimiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	return c.AllowN(ctx, key, 1)
}

func (c *countingLimiter) AllowN(ctx context.Context, key string, n int) (ratelimit.Decision, error) {
	c.calls.Add(1)
	if err := c.fail.Load(); err != nil {
		return ratelimit.Decision{}, *err
	}
	return c.Limiter.AllowN(ctx, key, n)
}

func leasedRig(t *testing.T, l ratelimit.Limit, opts ...ratelimit.LeaseOption) (*ratelimit.Leased, *countingLimiter, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.New()
	mem, err := ratelimit.NewMemory(ratelimit.TokenBucket, l, ratelimit.WithClock(clk.Now))
	require.NoError(t, err)
	shared := &countingLimiter{Limiter: mem}
	ll, err := ratelimit.NewLeased(shared, l, append([]ratelimit.LeaseOption{ratelimit.WithClock(clk.Now)}, opts...)...)
	require.NoError(t, err)
	return ll, shared, clk
}

func admitted(t *testing.T, l ratelimit.Limiter, key string, n int) int {
	t.Helper()
	ok := 0
	for range n {
		d, err := l.Allow(context.Background(), key)
		require.NoError(t, err)
		if d.Allowed {
			ok++
		}
	}
	return ok
}

func TestLeasedAsksTheSharedLimiterOncePerLease(t *testing.T) {
	ll, shared, _ := leasedRig(t, ratelimit.PerMinute(1_000_000))
	require.Equal(t, ratelimit.DefaultMaxLease, ll.LeaseSize())
	require.Equal(t, 10*ratelimit.DefaultMaxLease, admitted(t, ll, "a", 10*ratelimit.DefaultMaxLease))
	assert.Equal(t, int64(10), shared.calls.Load())
	d, err := ll.Allow(context.Background(), "a")
	require.NoError(t, err)
	assert.Equal(t, 1_000_000-10*ratelimit.DefaultMaxLease-1, d.Remaining, "the lease's tokens count as remaining")
	assert.Equal(t, ratelimit.Stats{Allowed: 10*ratelimit.DefaultMaxLease + 1, Keys: 1}, ll.Stats())
}

// Leases take whole tokens from the shared limit and the last ones are
// taken one by one: exactly the limit is admitted, whatever its size
// against the lease.
func TestLeasedKeepsTheLimitExact(t *testing.T) {
	for _, rate := range []int{8, 250, 1000, 4567, 6400, 100_000} {
		ll, _, clk := leasedRig(t, ratelimit.PerMinute(rate))
		assert.Equal(t, rate, admitted(t, ll, "a", rate+20), "rate %d", rate)
		assert.Equal(t, rate, admitted(t, ll, "b", rate+20), "keys are independent (rate %d)", rate)
		clk.Advance(time.Minute)
		assert.Equal(t, rate, admitted(t, ll, "a", rate+20), "refilled (rate %d)", rate)
	}
}

// The documented bound: over an interval, a process may admit up to
// size−1 beyond what the shared limit admits (the tokens left in its lease
// when the interval starts), and not one more.
func TestLeasedOverAdmissionIsAtMostALeasePerProcess(t *testing.T) {
	clk := clocktest.New()
	l := ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1000} // leases live 1 s
	mem, err := ratelimit.NewMemory(ratelimit.TokenBucket, l, ratelimit.WithClock(clk.Now))
	require.NoError(t, err)
	a, err := ratelimit.NewLeased(mem, l, ratelimit.WithLeaseSize(50), ratelimit.WithClock(clk.Now))
	require.NoError(t, err)
	b, err := ratelimit.NewLeased(mem, l, ratelimit.WithLeaseSize(50), ratelimit.WithClock(clk.Now))
	require.NoError(t, err)
	require.Equal(t, 1, admitted(t, a, "k", 1)) // a leases 50 and holds 49
	require.Equal(t, 1, admitted(t, b, "k", 1)) // so does b
	clk.Advance(100 * time.Millisecond)         // the bucket is full again; the leases live on

	burst := admitted(t, mem, "k", 2000) + admitted(t, a, "k", 100) + admitted(t, b, "k", 100)
	assert.Equal(t, l.Burst+2*(50-1), burst, "an instant burst: Burst plus size−1 per process")
	assert.Equal(t, 0, admitted(t, a, "k", 10)+admitted(t, b, "k", 10)+admitted(t, mem, "k", 10), "then nothing")
}

// Concurrent misses wait for one renewal; all together they take exactly
// the limit, on memory and on every Redis target.
func TestLeasedIsExactUnderConcurrency(t *testing.T) {
	run := func(t *testing.T, shared ratelimit.Limiter, l ratelimit.Limit, g, each int, want int64) int64 {
		counting := &countingLimiter{Limiter: shared}
		ll, err := ratelimit.NewLeased(counting, l)
		require.NoError(t, err)
		var ok atomic.Int64
		var wg sync.WaitGroup
		for range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					d, err := ll.Allow(context.Background(), "k")
					if assert.NoError(t, err) && d.Allowed {
						ok.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, want, ok.Load())
		return counting.calls.Load()
	}
	plenty := ratelimit.PerHour(100_000) // leases of 64
	tight := ratelimit.PerHour(1000)     // leases of 10
	t.Run("memory", func(t *testing.T) {
		mem, err := ratelimit.NewMemory(ratelimit.TokenBucket, plenty)
		require.NoError(t, err)
		calls := run(t, mem, plenty, 50, 64, 50*64)
		// 50 leases of 64 would do; a request that waited for
		// leaseWaits renewals and found each emptied by others asks for
		// one token itself, and how often that happens is up to the
		// scheduler (113 calls in a loaded CI run). A renewal per waiting
		// request would be thousands.
		assert.LessOrEqual(t, calls, int64(50*64/8), "renewals shared by waiting requests, not one each")
		mem, err = ratelimit.NewMemory(ratelimit.TokenBucket, tight)
		require.NoError(t, err)
		run(t, mem, tight, 50, 40, 1000)
	})
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for _, l := range []ratelimit.Limit{plenty, tight} {
			r, err := ratelimit.NewRedis(tg.Client, ratelimit.TokenBucket, l, ratelimit.WithPrefix(tg.Prefix), ratelimit.WithTimeout(5*time.Second))
			require.NoError(t, err)
			want := int64(32 * 40)
			if l == tight {
				want = 1000
			}
			calls := run(t, r, l, 32, 40, want)
			if l == plenty {
				assert.Less(t, calls, int64(32*40/4), "leased, not one call per decision")
			}
		}
	})
}

func TestLeasedTokensExpire(t *testing.T) {
	ll, shared, clk := leasedRig(t, ratelimit.PerMinute(1000)) // leases of 10, refilled in 600 ms
	require.Equal(t, 1, admitted(t, ll, "k", 1))
	clk.Advance(ratelimit.DefaultLeaseMinTTL - time.Millisecond)
	require.Equal(t, 1, admitted(t, ll, "k", 1))
	assert.Equal(t, int64(1), shared.calls.Load(), "the lease is still good")
	clk.Advance(2 * time.Millisecond)
	require.Equal(t, 1, admitted(t, ll, "k", 1))
	assert.Equal(t, int64(2), shared.calls.Load(), "the first lease expired")

	slow, shared, clk := leasedRig(t, ratelimit.PerHour(10_000)) // leases of 64, refilled in 23 s
	require.Equal(t, 1, admitted(t, slow, "k", 1))
	clk.Advance(20 * time.Second)
	require.Equal(t, 1, admitted(t, slow, "k", 1))
	assert.Equal(t, int64(1), shared.calls.Load(), "kept for the refill time")
	clk.Advance(4 * time.Second)
	require.Equal(t, 1, admitted(t, slow, "k", 1))
	assert.Equal(t, int64(2), shared.calls.Load(), "the lease expired")
}

// A failing shared limiter: leased tokens are still handed out; past them
// each request gets the error, not Allowed, and an EventError.
func TestLeasedWhileTheSharedLimiterFails(t *testing.T) {
	var events []ratelimit.Event
	var mu sync.Mutex
	ll, shared, _ := leasedRig(t, ratelimit.PerMinute(1000), ratelimit.WithObserver(func(e ratelimit.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}))
	require.Equal(t, 1, admitted(t, ll, "k", 1)) // a lease of 10
	down := errors.New("redis down")
	shared.fail.Store(&down)
	require.Equal(t, 9, admitted(t, ll, "k", 9), "the leased tokens were paid for")
	d, err := ll.Allow(context.Background(), "k")
	require.ErrorIs(t, err, down)
	assert.False(t, d.Allowed)
	_, err = ll.Allow(context.Background(), "other")
	require.ErrorIs(t, err, down)
	mu.Lock()
	require.Len(t, events, 2)
	assert.Equal(t, ratelimit.EventError, events[0].Kind)
	assert.Equal(t, "leased", events[0].Limiter)
	mu.Unlock()
	assert.Equal(t, uint64(2), ll.Stats().Errors)

	shared.fail.Store(nil)
	require.Equal(t, 1, admitted(t, ll, "k", 1), "back with the shared limiter")

	open := ratelimit.FailOpen(ll)
	shared.fail.Store(&down)
	d, err = open.Allow(context.Background(), "fresh")
	require.NoError(t, err)
	assert.True(t, d.Allowed, "FailOpen around Leased chooses the answer")
}

// blockingLimiter holds every call until release is closed.
type blockingLimiter struct {
	ratelimit.Limiter
	entered chan struct{}
	release chan struct{}
}

func (b *blockingLimiter) AllowN(ctx context.Context, key string, n int) (ratelimit.Decision, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Limiter.AllowN(ctx, key, n)
}

func (b *blockingLimiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	return b.AllowN(ctx, key, 1)
}

func TestLeasedHonoursContext(t *testing.T) {
	l := ratelimit.PerMinute(1000)
	ll, shared, _ := leasedRig(t, l)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d, err := ll.Allow(ctx, "k")
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, d.Allowed)
	assert.Zero(t, shared.calls.Load(), "a done ctx asks nobody")

	// A request waiting for another's renewal gives up with its ctx.
	mem, err := ratelimit.NewMemory(ratelimit.TokenBucket, l)
	require.NoError(t, err)
	blocking := &blockingLimiter{Limiter: mem, entered: make(chan struct{}, 1), release: make(chan struct{})}
	bl, err := ratelimit.NewLeased(blocking, l)
	require.NoError(t, err)
	renewed := make(chan error, 1)
	go func() { _, err := bl.Allow(context.Background(), "k"); renewed <- err }()
	<-blocking.entered
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = bl.Allow(ctx, "k")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(blocking.release)
	require.NoError(t, <-renewed)
}

func TestLeasedBoundsItsKeys(t *testing.T) {
	ll, _, _ := leasedRig(t, ratelimit.PerMinute(100_000), ratelimit.WithLeaseKeys(20))
	for i := range 200 {
		require.Equal(t, 1, admitted(t, ll, string(rune('a'+i%26))+string(rune('A'+i/26)), 1))
	}
	assert.LessOrEqual(t, ll.Stats().Keys, 20)
	assert.Positive(t, ll.Stats().Keys)
}

func TestLeasedSmallLimitsLeaseNothing(t *testing.T) {
	ll, shared, _ := leasedRig(t, ratelimit.PerMinute(199))
	assert.Equal(t, 1, ll.LeaseSize())
	require.Equal(t, 5, admitted(t, ll, "k", 5))
	assert.Equal(t, int64(5), shared.calls.Load(), "every decision asks the shared limiter")
}

func TestLeasedConfig(t *testing.T) {
	l := ratelimit.PerMinute(1000)
	mem, err := ratelimit.NewMemory(ratelimit.TokenBucket, l)
	require.NoError(t, err)
	leaky, err := ratelimit.NewMemory(ratelimit.LeakyBucket, l)
	require.NoError(t, err)
	var nilMem *ratelimit.Memory
	for name, make := range map[string]func() (*ratelimit.Leased, error){
		"nil shared":        func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(nil, l) },
		"typed nil":         func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(nilMem, l) },
		"leaky bucket":      func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(leaky, l) },
		"another limit":     func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(mem, ratelimit.PerMinute(999)) },
		"bad limit":         func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(mem, ratelimit.Limit{}) },
		"lease above burst": func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(mem, l, ratelimit.WithLeaseSize(1001)) },
		"lease of 0":        func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(mem, l, ratelimit.WithLeaseSize(0)) },
		"no keys":           func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(mem, l, ratelimit.WithLeaseKeys(0)) },
		"nil clock":         func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(mem, l, ratelimit.WithClock(nil)) },
		"nil option":        func() (*ratelimit.Leased, error) { return ratelimit.NewLeased(mem, l, nil) },
	} {
		ll, err := make()
		assert.ErrorIs(t, err, ratelimit.ErrInvalidConfig, name)
		assert.Nil(t, ll, name)
	}
	ll, err := ratelimit.NewLeased(mem, l, ratelimit.WithLeaseSize(1000))
	require.NoError(t, err)
	assert.Equal(t, 1000, ll.LeaseSize())
	assert.Equal(t, l.Rate, ll.Limit().Burst)
}
