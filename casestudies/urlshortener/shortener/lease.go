package shortener

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/ratelimit"
)

// Leasing of the redirect limit's tokens (Redis only).
const (
	// MaxRedirectLease is the most tokens of a client's redirect limit an
	// instance takes from Redis at once: one Redis call per this many
	// redirects of a busy client, instead of one per redirect. A lease is
	// also at most leaseShare of the limit's Burst.
	MaxRedirectLease = 64
	// leaseShare: a lease is at most 1/leaseShare of Burst, so what leases
	// can add to an instant burst stays within 1% of it per instance.
	leaseShare = 100
	// leaseKeys bounds how many clients' leases an instance holds.
	leaseKeys = 10_000
	// leaseMinTTL is the least time leased tokens stay usable.
	leaseMinTTL = time.Second
	// leaseWaits is how many renewals of others a request waits for at
	// most before it asks the shared limiter for its own token.
	leaseWaits = 4
)

// leasedLimiter spends a shared limiter's tokens in leases: on a miss it
// takes up to lease tokens at once (AllowN) and hands them out locally,
// for at most the time the limit takes to refill them. Every redirect
// admitted spent a token taken from the shared limit, so over time a fleet
// admits no more than the limit's rate; the prices are that an instant
// burst may pass Burst by up to a lease per instance (tokens leased before
// the bucket refilled), and that tokens one instance leased and did not
// use are lost to the others (a client spread over a fleet may be limited
// a little early). When the lease cannot be had (the client is near its
// limit) a single token is asked for, so the limit itself is exact.
type leasedLimiter struct {
	shared ratelimit.Limiter
	lease  int
	ttl    time.Duration
	leases *cache.LRU[*lease]
	// renewing holds, per key being renewed, a channel closed when the
	// renewal is done.
	renewing sync.Map
}

// lease is what is left of a client's leased tokens, with the decision
// that took them (for the rate-limit headers).
type lease struct {
	left atomic.Int64
	d    ratelimit.Decision
}

// newLeasedLimiter leases tokens of shared, whose limit is l. A limit too
// small for leases of 2 (Burst under 2×leaseShare) leases nothing: shared
// is returned as it is.
func newLeasedLimiter(shared ratelimit.Limiter, l ratelimit.Limit, now func() time.Time) (ratelimit.Limiter, error) {
	burst := l.Burst
	if burst == 0 {
		burst = l.Rate
	}
	size := min(MaxRedirectLease, burst/leaseShare)
	if size < 2 {
		return shared, nil
	}
	leases, err := cache.NewLRU[*lease](leaseKeys, cache.WithClock(now))
	if err != nil {
		return nil, fmt.Errorf("redirect lease: %w", err)
	}
	// Unused tokens are kept for the time the limit takes to refill a
	// lease, and at least leaseMinTTL: whatever they are kept, an instance
	// holds at most a lease beyond what the shared bucket has (what bounds
	// the excess), and a high limit refills a lease in microseconds, which
	// would make every lease expire before it is used.
	ttl := max(leaseMinTTL, time.Duration(int64(l.Period)*int64(size)/int64(l.Rate)))
	return &leasedLimiter{shared: shared, lease: size, ttl: ttl, leases: leases}, nil
}

// Allow admits one request under key: from this instance's lease when it
// has tokens left, else from the shared limiter. Concurrent misses of one
// key wait for one renewal instead of each taking a lease.
func (ll *leasedLimiter) Allow(ctx context.Context, key string) (ratelimit.Decision, error) {
	for range leaseWaits {
		if d, ok := ll.fromLease(ctx, key); ok {
			return d, nil
		}
		f := make(chan struct{})
		other, busy := ll.renewing.LoadOrStore(key, f)
		if !busy {
			// A renewal may have ended between the miss and LoadOrStore:
			// its lease is to be used, not replaced (its tokens would be
			// lost).
			d, ok := ll.fromLease(ctx, key)
			var err error
			if !ok {
				d, err = ll.renew(ctx, key)
			}
			ll.renewing.Delete(key)
			close(f)
			return d, err
		}
		select {
		case <-other.(chan struct{}):
		case <-ctx.Done():
			return ratelimit.Decision{}, ctx.Err()
		}
	}
	// The renewals this call waited for left nothing (the client is at its
	// limit, or the lease went to others): one token, as without leases.
	return ll.shared.Allow(ctx, key)
}

// fromLease takes a token from key's lease, if it has one left.
func (ll *leasedLimiter) fromLease(ctx context.Context, key string) (ratelimit.Decision, bool) {
	l, ok, _ := ll.leases.Get(ctx, key)
	if !ok {
		return ratelimit.Decision{}, false
	}
	for {
		left := l.left.Load()
		if left <= 0 {
			return ratelimit.Decision{}, false
		}
		if l.left.CompareAndSwap(left, left-1) {
			d := l.d
			d.Remaining += int(left - 1)
			return d, true
		}
	}
}

// renew takes a lease from the shared limiter and spends its first token;
// near the limit, a single token.
func (ll *leasedLimiter) renew(ctx context.Context, key string) (ratelimit.Decision, error) {
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
