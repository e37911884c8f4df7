package shortener

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/ratelimit"
)

// countingLimiter counts the calls that reach the shared limiter.
type countingLimiter struct {
	ratelimit.Limiter
	calls atomic.Int64
}

func (c *countingLimiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	c.calls.Add(1)
	return c.Limiter.Allow(ctx, key)
}

func (c *countingLimiter) AllowN(ctx context.Context, key string, n int) (ratelimit.Decision, error) {
	c.calls.Add(1)
	return c.Limiter.AllowN(ctx, key, n)
}

func leasedRig(t *testing.T, l ratelimit.Limit) (ratelimit.Limiter, *countingLimiter, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.New()
	mem, err := ratelimit.NewMemory(ratelimit.TokenBucket, l, ratelimit.WithClock(clk.Now))
	require.NoError(t, err)
	shared := &countingLimiter{Limiter: mem}
	ll, err := newLeasedLimiter(shared, l, clk.Now)
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

func TestLeasedLimiterAsksTheSharedLimiterOncePerLease(t *testing.T) {
	ll, shared, _ := leasedRig(t, ratelimit.PerMinute(1_000_000))
	require.Equal(t, 10*MaxRedirectLease, admitted(t, ll, "192.0.2.1", 10*MaxRedirectLease))
	assert.Equal(t, int64(10), shared.calls.Load())
	d, err := ll.Allow(context.Background(), "192.0.2.1")
	require.NoError(t, err)
	assert.Equal(t, 1_000_000-10*MaxRedirectLease-1, d.Remaining, "the lease's tokens count as remaining")
}

// TestLeasedLimiterKeepsTheLimitExact: leases take whole tokens from the
// shared limit, and the last ones are taken one by one: exactly the limit
// is admitted, whatever its size against the lease.
func TestLeasedLimiterKeepsTheLimitExact(t *testing.T) {
	for _, rate := range []int{8, 250, 1000, 4567, 6400, 100_000} {
		ll, _, clk := leasedRig(t, ratelimit.PerMinute(rate))
		assert.Equal(t, rate, admitted(t, ll, "192.0.2.1", rate+20), "rate %d", rate)
		assert.Equal(t, rate, admitted(t, ll, "192.0.2.2", rate+20), "keys are independent (rate %d)", rate)
		clk.Advance(time.Minute)
		assert.Equal(t, rate, admitted(t, ll, "192.0.2.1", rate+20), "refilled (rate %d)", rate)
	}
}

// TestLeasedTokensExpire: tokens left in a lease are not kept past the
// time the limit takes to refill them, nor less than leaseMinTTL.
func TestLeasedTokensExpire(t *testing.T) {
	ll, shared, clk := leasedRig(t, ratelimit.PerMinute(1000)) // leases of 10, refilled in 600 ms
	require.Equal(t, 1, admitted(t, ll, "k", 1))
	clk.Advance(leaseMinTTL - time.Millisecond)
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

func TestSmallLimitsAreNotLeased(t *testing.T) {
	shared, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerMinute(199))
	require.NoError(t, err)
	ll, err := newLeasedLimiter(shared, ratelimit.PerMinute(199), time.Now)
	require.NoError(t, err)
	assert.Same(t, shared, ll.(*ratelimit.Memory))
}

// TestLeasedLimiterNeverExceedsTheLimitConcurrently: concurrent misses
// wait for one renewal; all together they take exactly the limit.
func TestLeasedLimiterNeverExceedsTheLimitConcurrently(t *testing.T) {
	ll, shared, _ := leasedRig(t, ratelimit.PerMinute(100_000)) // leases of 64
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 64 {
				d, err := ll.Allow(context.Background(), "192.0.2.8")
				if assert.NoError(t, err) && d.Allowed {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(50*64), ok.Load())
	assert.LessOrEqual(t, shared.calls.Load(), int64(2*50), "one renewal per lease, not one per waiting request: %d", shared.calls.Load())

	ll, _, _ = leasedRig(t, ratelimit.PerMinute(1000))
	ok.Store(0)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				d, err := ll.Allow(context.Background(), "192.0.2.9")
				if assert.NoError(t, err) && d.Allowed {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1000), ok.Load(), "exactly the limit")
}
