package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Leased spends a shared limiter's tokens in leases: when a key has no
// tokens left in this process, one AllowN takes a lease of up to
// WithLeaseSize tokens at once from the shared limiter, and the following
// decisions of that key are answered in memory, with no call to the shared
// limiter, until the lease is spent or expires. On a Redis limiter that is
// one round trip per lease instead of one per decision, for the keys that
// are busy enough to use them.
//
// Over-admission, exactly: every request Leased admits spent a token of
// the shared limit, taken at most one lease earlier. So over any interval
// of length T a fleet of k processes admits under one key at most what
// the shared limiter alone would, Burst + Rate×T/Period, plus k×(size−1):
// the tokens each process holds in its one lease of the key when the
// interval starts. Leases are taken only when the shared limit has a
// whole lease to give; below that, each request asks for its own token,
// so the limit itself is exact. Tokens a process leased and did not use
// are lost to the others when the lease expires (after the time the limit
// takes to refill a lease, and at least DefaultLeaseMinTTL): a key spread
// over a fleet may be limited a little early, never late.
//
// Concurrent misses of one key wait for one renewal (up to four in a row)
// instead of each taking a lease; a request that waited that long asks the
// shared limiter for its own token.
//
// Failure: Leased neither fails open nor closed by itself. Tokens already
// leased are still handed out while the shared limiter fails (they were
// paid for); a request that needs the shared limiter gets its error, with
// a Decision that is not Allowed, and an EventError. Wrap Leased in
// FailOpen, FailClosed or Fallback to choose an answer instead (wrapping
// the shared limiter would lease tokens a failing limiter never had).
//
// Only Allow (AllowN with n = 1) uses leases; AllowN with a larger n goes
// to the shared limiter as it is. Memory is bounded by WithLeaseKeys.
type Leased struct {
	shared Limiter
	limit  Limit
	size   int
	ttl    time.Duration
	now    func() time.Time
	leases *leaseStore
	hooks  hooks
	stats  counters

	// renewing holds, per key being renewed, a channel closed when the
	// renewal is done.
	renewing sync.Map
}

var _ Limiter = (*Leased)(nil)

// leaseWaits is how many renewals of others a request waits for at most
// before it asks the shared limiter for its own token.
const leaseWaits = 4

// NewLeased returns a Leased spending shared's tokens, whose limit is l,
// in leases. Options: WithLeaseSize, WithLeaseKeys, WithClock (for lease
// expiry), WithObserver, WithLogger. Errors wrap ErrInvalidConfig: a nil
// shared limiter, an invalid l, an l other than shared's own (for a Memory
// or Redis limiter, which tell it), a LeakyBucket (whose point is to space
// requests out, which a lease handed out at once would defeat), or a
// lease larger than the limit's Burst.
func NewLeased(shared Limiter, l Limit, opts ...LeaseOption) (*Leased, error) {
	if isNil(shared) {
		return nil, fmt.Errorf("%w: NewLeased: nil shared limiter", ErrInvalidConfig)
	}
	if algorithmOf(shared) == LeakyBucket {
		return nil, fmt.Errorf("%w: NewLeased: a LeakyBucket spaces requests out, which leases handed out at once would defeat", ErrInvalidConfig)
	}
	alg := algorithmOf(shared)
	if alg == 0 {
		alg = TokenBucket
	}
	s, err := newSpec(alg, l)
	if err != nil {
		return nil, fmt.Errorf("NewLeased: %w", err)
	}
	if own, ok := shared.(interface{ Limit() Limit }); ok && own.Limit() != s.limit {
		return nil, fmt.Errorf("%w: NewLeased: limit %s is not the shared limiter's %s", ErrInvalidConfig, s.limit, own.Limit())
	}
	c, err := applyLeaseOptions(opts)
	if err != nil {
		return nil, err
	}
	burst := s.limit.Burst
	size := c.size
	if size == 0 {
		size = max(1, min(DefaultMaxLease, burst/DefaultLeaseShare))
	}
	if size > burst {
		return nil, fmt.Errorf("%w: WithLeaseSize(%d): more than the limit's Burst %d", ErrInvalidConfig, size, burst)
	}
	// Unused tokens are kept for the time the limit takes to refill a
	// lease: however long they are kept, a process holds at most one
	// lease beyond what the shared bucket has (which bounds the excess).
	ttl := max(DefaultLeaseMinTTL, time.Duration(int64(s.limit.Period)*int64(size)/int64(s.limit.Rate)))
	return &Leased{shared: shared, limit: s.limit, size: size, ttl: ttl, now: c.now,
		leases: newLeaseStore(c.keys), hooks: c.hooks}, nil
}

// Limit returns the shared limit, with Burst filled in.
func (ll *Leased) Limit() Limit { return ll.limit }

// LeaseSize is how many tokens a lease takes (1: none are leased).
func (ll *Leased) LeaseSize() int { return ll.size }

// Stats returns Leased's answers so far; Keys is how many keys' leases it
// holds now.
func (ll *Leased) Stats() Stats {
	s := ll.stats.stats()
	s.Keys = ll.leases.len()
	return s
}

// Allow admits one request under key: from this process's lease of key
// when it has a token left, else from the shared limiter (taking a new
// lease when the limit has one to give). A done ctx is an error.
func (ll *Leased) Allow(ctx context.Context, key string) (Decision, error) {
	d, err := ll.allow(ctx, key)
	ll.stats.count(d, err)
	return d, err
}

// AllowN admits n units under key: Allow for n = 1, the shared limiter
// itself for more.
func (ll *Leased) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	if n == 1 {
		return ll.Allow(ctx, key)
	}
	d, err := ll.shared.AllowN(ctx, key, n)
	ll.stats.count(d, err)
	return d, err
}

func (ll *Leased) allow(ctx context.Context, key string) (Decision, error) {
	if err := ctx.Err(); err != nil {
		return Decision{Limit: ll.limit}, err
	}
	if ll.size == 1 {
		return ll.ask(ctx, key, 1)
	}
	for range leaseWaits {
		if d, ok := ll.fromLease(key); ok {
			return d, nil
		}
		done := make(chan struct{})
		other, busy := ll.renewing.LoadOrStore(key, done)
		if !busy {
			// A renewal may have ended between the miss and LoadOrStore:
			// its lease is to be used, not replaced (its tokens would be
			// lost).
			d, ok := ll.fromLease(key)
			var err error
			if !ok {
				d, err = ll.renew(ctx, key)
			}
			ll.renewing.Delete(key)
			close(done)
			return d, err
		}
		select {
		case <-other.(chan struct{}):
		case <-ctx.Done():
			return Decision{Limit: ll.limit}, ctx.Err()
		}
	}
	// The renewals this call waited for left nothing (the key is at its
	// limit, or the lease went to others): one token, as without leases.
	return ll.ask(ctx, key, 1)
}

// fromLease takes a token from key's lease, if it has one left.
func (ll *Leased) fromLease(key string) (Decision, bool) {
	l := ll.leases.get(key)
	if l == nil {
		return Decision{}, false
	}
	left, ok := l.take(ll.now())
	if !ok {
		return Decision{}, false
	}
	d := l.d
	d.Remaining += int(left)
	return d, true
}

// renew takes a lease from the shared limiter and spends its first token;
// with less than a lease left, a single token.
func (ll *Leased) renew(ctx context.Context, key string) (Decision, error) {
	d, err := ll.ask(ctx, key, ll.size)
	if err != nil || !d.Allowed {
		if err == nil {
			// Less than a lease left: one token, exactly as without leases.
			return ll.ask(ctx, key, 1)
		}
		return d, err
	}
	l := &lease{d: d, expires: ll.now().Add(ll.ttl)}
	l.left.Store(int64(ll.size - 1))
	ll.leases.put(key, l, ll.now())
	d.Remaining += ll.size - 1
	return d, nil
}

// ask asks the shared limiter for n tokens and reports its failure.
func (ll *Leased) ask(ctx context.Context, key string, n int) (Decision, error) {
	d, err := ll.shared.AllowN(ctx, key, n)
	if err != nil {
		if ll.hooks.on() {
			ll.hooks.emit(Event{Kind: EventError, Limiter: "leased", Algorithm: algorithmOf(ll.shared), Limit: ll.limit, Key: key, Err: err})
		}
		return Decision{Limit: ll.limit}, err
	}
	return d, nil
}
