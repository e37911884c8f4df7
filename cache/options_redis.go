package cache

import (
	"fmt"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// redisConfig is what NewRedis's options set.
type redisConfig struct {
	prefix      string
	codec       Codec // nil: JSON, or raw for []byte and string values
	timeout     time.Duration
	unpipelined bool
}

type redisOptionFunc func(*redisConfig) error

func (f redisOptionFunc) applyRedis(c *redisConfig) error { return f(c) }

// tieredConfig is what NewTiered's options set.
type tieredConfig struct {
	localTTL time.Duration
	staleMax time.Duration // WithServeStaleWhileDetached; 0: flush on loss
	channel  string        // "": the Redis cache's prefix + "{}invalidate"
	hooks    hooks
}

type tieredOptionFunc func(*tieredConfig) error

func (f tieredOptionFunc) applyTiered(c *tieredConfig) error { return f(c) }

type prefixOption string

func (p prefixOption) applyRedis(c *redisConfig) error {
	c.prefix = string(p)
	return checkPrefix(c.prefix)
}

func (p prefixOption) applyFleetLock(c *fleetConfig) error {
	c.prefix = string(p)
	return checkPrefix(c.prefix)
}

// WithPrefix sets the prefix of a Redis cache's names (NewRedis, default
// DefaultPrefix): its entries are prefix + "{}v:" + key and a Tiered's
// channel over it prefix + "{}invalidate". Given to WithFleetLock, it sets
// the prefix of the fleet lock's names (default: the prefix of the Redis
// or Tiered cache behind the Aside, else DefaultPrefix): its locks are
// prefix + "{}l:" + key and its channel prefix + "{}released". These
// namespaces never overlap, whatever the keys and prefixes, so one prefix
// may serve a cache and its lock. Give each service or data type its own.
// A prefix must not be empty nor hold a brace (ErrInvalidConfig).
func WithPrefix(p string) RedisAndFleetLockOption { return prefixOption(p) }

// timeoutOption is a per-call bound; 0 turns it off (WithoutTimeout).
type timeoutOption time.Duration

func (d timeoutOption) applyRedis(c *redisConfig) error {
	c.timeout = time.Duration(d)
	return nil
}

func (d timeoutOption) applyFleetLock(c *fleetConfig) error {
	c.timeout = time.Duration(d)
	return nil
}

// badTimeout is WithTimeout given a bound that is not positive: an error
// from the constructor.
type badTimeout time.Duration

func (d badTimeout) err() error {
	err := positive("WithTimeout", time.Duration(d))
	return fmt.Errorf("%w (WithoutTimeout turns the bound off)", err)
}

func (d badTimeout) applyRedis(*redisConfig) error     { return d.err() }
func (d badTimeout) applyFleetLock(*fleetConfig) error { return d.err() }

// WithTimeout bounds each Redis call of a Redis cache (and so of a Tiered
// built on it), or of a fleet lock when given to WithFleetLock (default
// DefaultTimeout for either), on every client whether or not it was built
// with ContextTimeoutEnabled. The caller's ctx deadline applies too,
// whichever is sooner. A Redis that is down or frozen costs an Aside read
// at most this long for the cache read, and with WithFleetLock its own
// WithTimeout again for the lock (the lock's own Redis may be another),
// before the loader serves it; the value is then stored after the answer,
// not before. d must be positive.
func WithTimeout(d time.Duration) RedisAndFleetLockOption {
	if d <= 0 {
		return badTimeout(d)
	}
	return timeoutOption(d)
}

// WithoutTimeout turns the per-call bound of WithTimeout off: only the
// caller's ctx and the client's own timeouts limit a Redis call.
func WithoutTimeout() RedisAndFleetLockOption { return timeoutOption(0) }

// WithoutPipelining sends each of a Redis cache's calls in a round trip
// of its own. By default, calls made concurrently on one client (Gets,
// Sets, one-key Deletes, entry reads and fenced stores, by this cache or
// any other package's Redis type on that client) ride pipelines together, each still bounded
// on its own; a call with nothing else in flight goes straight out, so a
// lone caller waits for no company. Opt out where each call must be its
// own request on the wire.
func WithoutPipelining() RedisOption {
	return redisOptionFunc(func(rc *redisConfig) error {
		rc.unpipelined = true
		return nil
	})
}

// WithCodec sets how Redis encodes values (default JSON; []byte and string
// values are stored as they are).
func WithCodec(c Codec) RedisOption {
	return redisOptionFunc(func(rc *redisConfig) error {
		if c == nil {
			return fmt.Errorf("%w: WithCodec(nil)", ErrInvalidConfig)
		}
		rc.codec = c
		return nil
	})
}

// WithLocalTTL caps how long Tiered keeps a value in its local tier
// (default DefaultLocalTTL; never longer than the value has left in
// Redis). It bounds staleness should an invalidation message be lost in a
// way the reconnect flush cannot see.
func WithLocalTTL(d time.Duration) TieredOption {
	return tieredOptionFunc(func(c *tieredConfig) error {
		if err := positive("WithLocalTTL", d); err != nil {
			return err
		}
		c.localTTL = d
		return nil
	})
}

// WithServeStaleWhileDetached makes a Tiered keep serving its local tier
// while its invalidation subscription is down ("detached"), for at most
// maxAge from the moment the loss was noticed, instead of flushing the
// local tier at once. Every local entry was confirmed by the live
// subscription up to that moment (an invalidation would have removed it),
// so no entry is served more than maxAge after it was last confirmed,
// plus the time the loss takes to notice (at most about 2s). Once maxAge
// has passed, the next read flushes the local tier and goes to Redis; and
// the moment the subscription is back, the local tier is flushed, since
// what was invalidated meanwhile cannot be known. While detached nothing
// new is kept locally, and a Set or Delete through this Tiered drops its
// own local copy.
//
// The trade-off: during a Redis outage the hot keys keep being served
// from memory (a URL shortener keeps redirecting) instead of every read
// failing; but a key deleted or changed elsewhere during the outage, or
// just before it, may keep being served here, unchanged, for up to
// maxAge. Use it only where serving a value up to maxAge stale is better
// than serving nothing. maxAge is measured on the local LRU's clock (its
// WithClock, if any) and must be positive (ErrInvalidConfig); the local
// TTL (WithLocalTTL) still applies. Stats.StaleHits counts the reads it
// served.
func WithServeStaleWhileDetached(maxAge time.Duration) TieredOption {
	return tieredOptionFunc(func(c *tieredConfig) error {
		if err := positive("WithServeStaleWhileDetached", maxAge); err != nil {
			return err
		}
		c.staleMax = maxAge
		return nil
	})
}

// WithChannel sets Tiered's invalidation pub/sub channel (default: the
// Redis cache's prefix followed by "{}invalidate"). Instances share local
// invalidations exactly when they share the channel. The name must not be
// empty nor hold a brace, so that it can never be one of the channels this
// package derives from prefixes (ErrInvalidConfig).
func WithChannel(name string) TieredOption {
	return tieredOptionFunc(func(c *tieredConfig) error {
		if err := redisx.CheckName("WithChannel", name); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		c.channel = name
		return nil
	})
}
