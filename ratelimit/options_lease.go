package ratelimit

import (
	"fmt"
	"time"
)

// Leased's defaults.
const (
	// DefaultMaxLease is the most tokens a Leased takes from its shared
	// limiter at once unless WithLeaseSize says otherwise: one shared call
	// per this many decisions of a busy key.
	DefaultMaxLease = 64
	// DefaultLeaseShare: a default lease is at most 1/DefaultLeaseShare of
	// the limit's Burst (Rate for the window algorithms), so what leases
	// can add to an instant burst stays within 1% of it per instance.
	DefaultLeaseShare = 100
	// DefaultLeaseKeys bounds how many keys' leases a Leased holds unless
	// WithLeaseKeys says otherwise.
	DefaultLeaseKeys = 10_000
	// DefaultLeaseMinTTL is the least time leased tokens stay usable: a
	// high limit refills a lease in microseconds, which would otherwise
	// make every lease expire before it is used.
	DefaultLeaseMinTTL = time.Second
)

// LeaseOption configures NewLeased: WithLeaseSize, WithLeaseKeys,
// WithClock, WithObserver, WithLogger. Sealed like MemoryOption.
type LeaseOption interface{ applyLease(*leaseConfig) error }

type leaseConfig struct {
	hooks
	now  func() time.Time
	size int // 0: the default for the limit
	keys int
}

type leaseOption func(*leaseConfig) error

func (f leaseOption) applyLease(c *leaseConfig) error { return f(c) }

// WithLeaseSize sets how many tokens a Leased takes from its shared
// limiter at once (default: DefaultMaxLease, or 1/DefaultLeaseShare of the
// limit's Burst when that is less). It is also what each instance may
// admit beyond the limit, less one (see Leased). 1 leases nothing: every
// decision goes to the shared limiter. n must be between 1 and Burst.
func WithLeaseSize(n int) LeaseOption {
	return leaseOption(func(c *leaseConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithLeaseSize(%d): must be at least 1", ErrInvalidConfig, n)
		}
		c.size = n
		return nil
	})
}

// WithLeaseKeys caps how many keys' leases a Leased holds at once (default
// DefaultLeaseKeys). At the cap, expired leases are dropped to make room,
// else an arbitrary one: its unused tokens are lost, which can only admit
// less, never more.
func WithLeaseKeys(n int) LeaseOption {
	return leaseOption(func(c *leaseConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithLeaseKeys(%d): must be at least 1", ErrInvalidConfig, n)
		}
		c.keys = n
		return nil
	})
}

func applyLeaseOptions(opts []LeaseOption) (leaseConfig, error) {
	c := leaseConfig{now: time.Now, keys: DefaultLeaseKeys}
	for _, opt := range opts {
		if opt == nil {
			return c, fmt.Errorf("%w: nil LeaseOption", ErrInvalidConfig)
		}
		if err := opt.applyLease(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}
