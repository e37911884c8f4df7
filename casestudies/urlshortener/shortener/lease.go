package shortener

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/ratelimit"
)

// Leasing of the redirect limit's tokens (Redis only).
const (
	// MaxRedirectLease is the most tokens of a client's redirect limit an
	// instance takes from Redis at once: one Redis call per this many
	// redirects of a busy client, instead of one per redirect.
	MaxRedirectLease = 16
	// leaseKeys bounds how many clients' leases an instance holds.
	leaseKeys = 10_000
)

// leasedLimiter spends a shared limiter's tokens in leases: on a miss it
// takes up to lease tokens at once (AllowN) and hands them out locally,
// for at most the time the limit takes to refill them. Every redirect
// admitted spent a token taken from the shared limit, so over time a fleet
// admits no more than the limit's rate; the prices are that an instant
// burst may pass Burst by up to lease per instance (tokens leased before
// the bucket refilled), and that tokens one instance leased and did not
// use are lost to the others (a client spread over a fleet may be limited
// a little early). When the lease cannot be had (the client is near its
// limit) a single token is asked for, so the limit itself is exact.
type leasedLimiter struct {
	shared ratelimit.Limiter
	lease  int
	ttl    time.Duration
	leases *cache.LRU[*lease]
}

// lease is what is left of a client's leased tokens, with the decision
// that took them (for the rate-limit headers).
type lease struct {
	left atomic.Int64
	d    ratelimit.Decision
}

// newLeasedLimiter leases tokens of shared, whose limit is l. A limit
// whose Burst is below 2 leases nothing: shared is returned as it is.
func newLeasedLimiter(shared ratelimit.Limiter, l ratelimit.Limit, now func() time.Time) (ratelimit.Limiter, error) {
	burst := l.Burst
	if burst == 0 {
		burst = l.Rate
	}
	size := min(MaxRedirectLease, burst/4)
	if size < 2 {
		return shared, nil
	}
	leases, err := cache.NewLRU[*lease](leaseKeys, cache.WithClock(now))
	if err != nil {
		return nil, fmt.Errorf("redirect lease: %w", err)
	}
	// The time the limit takes to refill a lease: unused tokens are worth
	// no more than that.
	ttl := max(time.Millisecond, time.Duration(int64(l.Period)*int64(size)/int64(l.Rate)))
	return &leasedLimiter{shared: shared, lease: size, ttl: ttl, leases: leases}, nil
}

// Allow admits one request under key: from this instance's lease when it
// has tokens left, else from the shared limiter.
func (ll *leasedLimiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	if l, ok, _ := ll.leases.Get(ctx, key); ok {
		for {
			left := l.left.Load()
			if left <= 0 {
				break
			}
			if l.left.CompareAndSwap(left, left-1) {
				d := l.d
				d.Remaining += int(left - 1)
				return d, nil
			}
		}
	}
	d, err := ll.shared.AllowN(ctx, key, ll.lease)
	if err != nil {
		return d, err
	}
	if !d.Allowed {
		// Fewer than a lease left: one token, exactly as without leases.
		return ll.shared.Allow(ctx, key)
	}
	l := &lease{d: d}
	l.left.Store(int64(ll.lease - 1))
	_ = ll.leases.Set(ctx, key, l, ll.ttl)
	d.Remaining += ll.lease - 1
	return d, nil
}

// AllowN admits n units under key; only single requests use leases.
func (ll *leasedLimiter) AllowN(ctx context.Context, key string, n int) (ratelimit.Decision, error) {
	if n == 1 {
		return ll.Allow(ctx, key)
	}
	return ll.shared.AllowN(ctx, key, n)
}
