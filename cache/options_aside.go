package cache

import (
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// asideConfig is what NewAside's options set.
type asideConfig struct {
	ttl, negTTL  time.Duration
	negSet       bool // WithNegativeTTL was given: needs an EntryCache
	jitter, beta float64
	betaSet      bool // WithEarlyRefresh was given: needs an EntryCache
	loadTimeout  time.Duration
	now          func() time.Time
	hooks        hooks

	lock     redis.UniversalClient // nil: no fleet lock
	lockOpts []FleetLockOption
}

type asideOptionFunc func(*asideConfig) error

func (f asideOptionFunc) applyAside(c *asideConfig) error { return f(c) }

// fleetConfig is what WithFleetLock's options set.
type fleetConfig struct {
	prefix  string // "": the prefix of the cache behind the Aside
	timeout time.Duration
	wait    time.Duration
}

type fleetOptionFunc func(*fleetConfig) error

func (f fleetOptionFunc) applyFleetLock(c *fleetConfig) error { return f(c) }

// WithTTL sets how long Aside caches a loaded value (default DefaultTTL),
// before jitter.
func WithTTL(d time.Duration) AsideOption {
	return asideOptionFunc(func(c *asideConfig) error {
		if err := positive("WithTTL", d); err != nil {
			return err
		}
		c.ttl = d
		return nil
	})
}

// WithNegativeTTL sets how long Aside caches a loader's ErrNotFound
// (default DefaultNegativeTTL), so lookups of keys that do not exist stop
// reaching the source of truth. It needs an EntryCache (LRU, Redis,
// Tiered).
func WithNegativeTTL(d time.Duration) AsideOption {
	return asideOptionFunc(func(c *asideConfig) error {
		if err := positive("WithNegativeTTL", d); err != nil {
			return fmt.Errorf("%w (WithoutNegativeCaching turns it off)", err)
		}
		c.negTTL, c.negSet = d, true
		return nil
	})
}

// WithoutNegativeCaching makes Aside call the loader for every lookup of a
// key that does not exist.
func WithoutNegativeCaching() AsideOption {
	return asideOptionFunc(func(c *asideConfig) error {
		c.negTTL, c.negSet = 0, false
		return nil
	})
}

// WithJitter shortens each TTL Aside stores by a random fraction of up to
// f (default DefaultJitter: a 5 minute TTL then becomes 4.5 to 5 minutes),
// so keys loaded together, or by a fleet together, do not expire together.
// 0 turns it off; f must be below 1.
func WithJitter(f float64) AsideOption {
	return asideOptionFunc(func(c *asideConfig) error {
		if !(f >= 0 && f < 1) {
			return fmt.Errorf("%w: WithJitter(%v): must be in [0, 1)", ErrInvalidConfig, f)
		}
		c.jitter = f
		return nil
	})
}

// WithEarlyRefresh sets beta of Aside's probabilistic early refresh
// (XFetch, Vattani et al., VLDB 2015; default DefaultEarlyRefresh). The
// time the loader took is stored with each value; a hit with t left to
// live reloads the key in the background when LoadTime × beta × −ln(rand)
// ≥ t. Refreshes so grow likely only close to expiry, and more so for
// values slow to compute, and a hot key is reloaded once before it expires
// instead of missing for everyone at once. Above 1 refreshes earlier,
// below 1 later; beta must be in (0, 100]. It needs an EntryCache (LRU,
// Redis, Tiered).
func WithEarlyRefresh(beta float64) AsideOption {
	return asideOptionFunc(func(c *asideConfig) error {
		if !(beta > 0 && beta <= 100) {
			return fmt.Errorf("%w: WithEarlyRefresh(%v): beta must be in (0, 100] (WithoutEarlyRefresh turns it off)", ErrInvalidConfig, beta)
		}
		c.beta, c.betaSet = beta, true
		return nil
	})
}

// WithoutEarlyRefresh turns Aside's early refresh off: keys are reloaded
// only when they have expired.
func WithoutEarlyRefresh() AsideOption {
	return asideOptionFunc(func(c *asideConfig) error {
		c.beta, c.betaSet = 0, false
		return nil
	})
}

// WithLoadTimeout bounds each loader call Aside makes (default
// DefaultLoadTimeout). The loader runs on a context of its own, detached
// from the callers' (one caller giving up must not fail the load for the
// others), with this deadline; the fleet lock is held at most this long.
func WithLoadTimeout(d time.Duration) AsideOption {
	return asideOptionFunc(func(c *asideConfig) error {
		if err := positive("WithLoadTimeout", d); err != nil {
			return err
		}
		c.loadTimeout = d
		return nil
	})
}

// WithFleetLock makes Aside take a lock on Redis c before it calls the
// loader, so that processes missing the same key together load it once
// between them: the one that gets the lock loads and stores the value, and
// the others wait for it (see WithLockWait) and then read it from the
// cache. The lock is a key with a random token (SET NX PX), held for at
// most the load timeout and released by a compare-and-delete script, which
// announces the release on a pub/sub channel. Pair it with a cache the
// fleet shares (Redis or Tiered): otherwise waiting processes find nothing
// and load themselves.
//
// lockOpts configure the lock: WithPrefix (of its names), WithTimeout or
// WithoutTimeout (of its Redis calls), WithLockWait.
func WithFleetLock(c redis.UniversalClient, lockOpts ...FleetLockOption) AsideOption {
	return asideOptionFunc(func(ac *asideConfig) error {
		if c == nil || isNilPointer(c) {
			return fmt.Errorf("%w: WithFleetLock(nil)", ErrInvalidConfig)
		}
		ac.lock, ac.lockOpts = c, lockOpts
		return nil
	})
}

// WithLockWait bounds how long Aside waits for another process holding the
// fleet lock to store the value (default DefaultLockWait); after that it
// calls the loader itself, so a crashed or slow lock holder costs a
// bounded delay.
func WithLockWait(d time.Duration) FleetLockOption {
	return fleetOptionFunc(func(c *fleetConfig) error {
		if err := positive("WithLockWait", d); err != nil {
			return err
		}
		c.wait = d
		return nil
	})
}
