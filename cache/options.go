package cache

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Option configures a constructor. Each constructor lists the options it
// takes; an option that does not apply to it is an error wrapping
// ErrInvalidConfig, never silently ignored.
type Option func(*options) error

// optBit records which options were given, so constructors can reject the
// ones that do not apply to them.
type optBit uint32

const (
	optClock optBit = 1 << iota
	optShards
	optMaxCost
	optTinyLFU
	optPrefix
	optCodec
	optTimeout
	optTTL
	optNegativeTTL
	optJitter
	optEarlyRefresh
	optFleetLock
	optLockWait
	optLoadTimeout
	optOnError
	optLocalTTL
	optChannel
)

var optNames = map[optBit]string{
	optClock: "WithClock", optShards: "WithShards", optMaxCost: "WithMaxCost",
	optTinyLFU: "WithTinyLFU", optPrefix: "WithPrefix", optCodec: "WithCodec",
	optTimeout: "WithTimeout/WithoutTimeout", optTTL: "WithTTL",
	optNegativeTTL: "WithNegativeTTL/WithoutNegativeCaching", optJitter: "WithJitter",
	optEarlyRefresh: "WithEarlyRefresh/WithoutEarlyRefresh", optFleetLock: "WithFleetLock",
	optLockWait: "WithLockWait", optLoadTimeout: "WithLoadTimeout", optOnError: "WithOnError",
	optLocalTTL: "WithLocalTTL", optChannel: "WithChannel",
}

type options struct {
	set optBit

	now      func() time.Time
	shards   int
	maxCost  int64
	costFn   any // func(V) int64, checked against V by NewLRU
	tinyLFU  bool
	prefix   string
	codec    Codec
	timeout  time.Duration
	ttl      time.Duration
	negTTL   time.Duration // 0: no negative caching
	jitter   float64
	beta     float64 // 0: no early refresh
	lock     redis.UniversalClient
	lockWait time.Duration
	loadTO   time.Duration
	onError  func(key string, err error)
	localTTL time.Duration
	channel  string
}

func applyOptions(opts []Option) (options, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: nil Option", ErrInvalidConfig)
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	return o, nil
}

// only fails when an option outside allowed was given to constructor.
func (o *options) only(constructor string, allowed optBit) error {
	if extra := o.set &^ allowed; extra != 0 {
		first := optBit(1) << bits.TrailingZeros32(uint32(extra))
		return fmt.Errorf("%w: %s does not apply to %s", ErrInvalidConfig, optNames[first], constructor)
	}
	return nil
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: %s(%s): must be positive", ErrInvalidConfig, name, d)
	}
	return nil
}

// WithClock sets the clock of an LRU's TTLs, and the one Aside measures
// load times with (default time.Now). Tests use it to step time exactly.
// Redis takes time from the server (its TTLs), so giving NewRedis a clock
// is an error.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
		}
		o.now, o.set = now, o.set|optClock
		return nil
	}
}

// WithShards splits an LRU into n independently locked shards (1 to
// 1024; default 1), trading exactness for parallel throughput. A key
// belongs to the shard its hash picks, and each shard is an exact LRU over
// its own keys with its own share of the capacity and of WithMaxCost's
// budget (capacity/n entries and maxCost/n, spread so that they add up to
// the totals). So with n > 1, unlike the default:
//
//   - eviction is per-shard LRU: the entry evicted is the least recently
//     used of the new key's shard, not necessarily of the cache;
//   - the cache may evict before it holds capacity entries, and before
//     its values cost maxCost in total: keys do not spread over shards
//     perfectly evenly, and a shard that is full evicts while others have
//     room;
//   - a value costing more than maxCost/n is never stored, even in an
//     empty cache;
//   - with WithTinyLFU, each shard has its own frequency sketch.
//
// In exchange, goroutines reading different keys rarely wait for one
// another's lock. n = 1 is the default: exact global LRU, exact capacity
// and cost bound, one lock for all callers (a Get hit holds it for tens of
// nanoseconds). Consider n > 1, e.g. 4 × GOMAXPROCS, only when profiles
// show contention on that lock, and size capacity with room to spare.
// n must not exceed the capacity (nor maxCost).
func WithShards(n int) Option {
	return func(o *options) error {
		if n < 1 || n > 1024 {
			return fmt.Errorf("%w: WithShards(%d): must be from 1 to 1024", ErrInvalidConfig, n)
		}
		o.shards, o.set = n, o.set|optShards
		return nil
	}
}

// WithMaxCost bounds an LRU by the total cost of its values as well as by
// their number: cost(v) is called once per Set, and the least recently
// used entries are evicted until the total is at most maxCost, and a value
// costing more than maxCost is not stored (counted as a rejection). With
// WithShards(n), n > 1, each shard has maxCost/n of the budget, and that
// is the most a single value may cost. cost must be a func(V) int64 for the LRU's V,
// never negative: typically a size in bytes.
func WithMaxCost[V any](maxCost int64, cost func(V) int64) Option {
	return func(o *options) error {
		if maxCost < 1 {
			return fmt.Errorf("%w: WithMaxCost(%d, …): must be at least 1", ErrInvalidConfig, maxCost)
		}
		if cost == nil {
			return fmt.Errorf("%w: WithMaxCost: nil cost function", ErrInvalidConfig)
		}
		o.maxCost, o.costFn, o.set = maxCost, cost, o.set|optMaxCost
		return nil
	}
}

// WithTinyLFU turns on an admission policy for an LRU: when the cache (its
// shard, with WithShards) is full, a new key may displace the least
// recently used entry only if it has been asked for (with Get) more often
// recently than that entry, as estimated by a count-min sketch with a
// doorkeeper (TinyLFU, Einziger et al.); otherwise the new key is not
// stored (counted as a rejection). Scans and one-hit wonders then no longer
// flush the hot set, which lifts hit ratios on skewed (Zipf) traffic; keys
// that are new and hot take a few Gets to get in. Eviction stays LRU: the
// policy only decides whether a new key gets in. Off by default: every Set
// is then stored, and (with the default single shard) the LRU is exact LRU.
func WithTinyLFU() Option {
	return func(o *options) error {
		o.tinyLFU, o.set = true, o.set|optTinyLFU
		return nil
	}
}

// WithPrefix sets the prefix of a Redis cache's names (NewRedis, default
// "cache:"): its entries are prefix + "{}v:" + key and a Tiered's channel
// over it prefix + "{}invalidate". Given to NewAside, it sets the prefix of
// the fleet lock's names (default: the prefix of the Redis or Tiered cache
// behind the Aside, else "cache:"): its locks are prefix + "{}l:" + key and
// its channel prefix + "{}released". These namespaces never overlap,
// whatever the keys and prefixes, so one prefix may serve a cache and its
// lock. Give each service or data type its own. A prefix must not be empty
// nor hold a brace (ErrInvalidConfig).
func WithPrefix(p string) Option {
	return func(o *options) error {
		if err := checkPrefix(p); err != nil {
			return err
		}
		o.prefix, o.set = p, o.set|optPrefix
		return nil
	}
}

// WithCodec sets how Redis encodes values (default JSON; []byte and string
// values are stored as they are).
func WithCodec(c Codec) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: WithCodec(nil)", ErrInvalidConfig)
		}
		o.codec, o.set = c, o.set|optCodec
		return nil
	}
}

// WithTimeout bounds each Redis call of a Redis cache (and so of a Tiered
// built on it), or of Aside's fleet lock (default 100ms), on every client
// whether or not it was built with ContextTimeoutEnabled. The caller's ctx
// deadline applies too, whichever is sooner. A Redis that is down or
// frozen costs an Aside read at most this long for the cache read, and
// with WithFleetLock this long again for the lock (the lock's own Redis
// may be another), before the loader serves it; the value is then stored
// after the answer, not before.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithTimeout", d); err != nil {
			return fmt.Errorf("%w (WithoutTimeout turns the bound off)", err)
		}
		o.timeout, o.set = d, o.set|optTimeout
		return nil
	}
}

// WithoutTimeout turns the per-call bound of WithTimeout off: only the
// caller's ctx and the client's own timeouts limit a Redis call.
func WithoutTimeout() Option {
	return func(o *options) error {
		o.timeout, o.set = 0, o.set|optTimeout
		return nil
	}
}

// WithTTL sets how long Aside caches a loaded value (default 5 minutes),
// before jitter.
func WithTTL(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithTTL", d); err != nil {
			return err
		}
		o.ttl, o.set = d, o.set|optTTL
		return nil
	}
}

// WithNegativeTTL sets how long Aside caches a loader's ErrNotFound
// (default 10s), so lookups of keys that do not exist stop reaching the
// source of truth. It needs an EntryCache (LRU, Redis, Tiered).
func WithNegativeTTL(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithNegativeTTL", d); err != nil {
			return fmt.Errorf("%w (WithoutNegativeCaching turns it off)", err)
		}
		o.negTTL, o.set = d, o.set|optNegativeTTL
		return nil
	}
}

// WithoutNegativeCaching makes Aside call the loader for every lookup of a
// key that does not exist.
func WithoutNegativeCaching() Option {
	return func(o *options) error {
		o.negTTL, o.set = 0, o.set|optNegativeTTL
		return nil
	}
}

// WithJitter shortens each TTL Aside stores by a random fraction of up to
// f (default 0.1: a 5 minute TTL becomes 4.5 to 5 minutes), so keys loaded
// together, or by a fleet together, do not expire together. 0 turns it
// off; f must be below 1.
func WithJitter(f float64) Option {
	return func(o *options) error {
		if !(f >= 0 && f < 1) {
			return fmt.Errorf("%w: WithJitter(%v): must be in [0, 1)", ErrInvalidConfig, f)
		}
		o.jitter, o.set = f, o.set|optJitter
		return nil
	}
}

// WithEarlyRefresh sets beta of Aside's probabilistic early refresh
// (XFetch, Vattani et al., VLDB 2015; default 1). The time the loader took
// is stored with each value; a hit with t left to live reloads the key in
// the background when LoadTime × beta × −ln(rand) ≥ t. Refreshes so grow
// likely only close to expiry, and more so for values slow to compute, and
// a hot key is reloaded once before it expires instead of missing for
// everyone at once. Above 1 refreshes earlier, below 1 later. It needs an
// EntryCache (LRU, Redis, Tiered).
func WithEarlyRefresh(beta float64) Option {
	return func(o *options) error {
		if !(beta > 0 && beta <= 100) {
			return fmt.Errorf("%w: WithEarlyRefresh(%v): beta must be in (0, 100] (WithoutEarlyRefresh turns it off)", ErrInvalidConfig, beta)
		}
		o.beta, o.set = beta, o.set|optEarlyRefresh
		return nil
	}
}

// WithoutEarlyRefresh turns Aside's early refresh off: keys are reloaded
// only when they have expired.
func WithoutEarlyRefresh() Option {
	return func(o *options) error {
		o.beta, o.set = 0, o.set|optEarlyRefresh
		return nil
	}
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
func WithFleetLock(c redis.UniversalClient) Option {
	return func(o *options) error {
		if c == nil {
			return fmt.Errorf("%w: WithFleetLock(nil)", ErrInvalidConfig)
		}
		o.lock, o.set = c, o.set|optFleetLock
		return nil
	}
}

// WithLockWait bounds how long Aside waits for another process holding the
// fleet lock to store the value (default 1s); after that it calls the
// loader itself, so a crashed or slow lock holder costs a bounded delay.
func WithLockWait(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithLockWait", d); err != nil {
			return err
		}
		o.lockWait, o.set = d, o.set|optLockWait
		return nil
	}
}

// WithLoadTimeout bounds each loader call Aside makes (default 10s). The
// loader runs on a context of its own, detached from the callers' (one
// caller giving up must not fail the load for the others), with this
// deadline; the fleet lock is held at most this long.
func WithLoadTimeout(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithLoadTimeout", d); err != nil {
			return err
		}
		o.loadTO, o.set = d, o.set|optLoadTimeout
		return nil
	}
}

// WithOnError sets a hook for the failures that Aside and Tiered work
// around rather than return: a cache read or write that failed (the loader
// served the read instead), a fleet lock that could not be taken, an
// invalidation channel that dropped. key is "" when no key is involved.
// The hook is called synchronously and must be quick and safe for
// concurrent use. Failures are counted in Stats.CacheErrors either way.
func WithOnError(fn func(key string, err error)) Option {
	return func(o *options) error {
		if fn == nil {
			return fmt.Errorf("%w: WithOnError(nil)", ErrInvalidConfig)
		}
		o.onError, o.set = fn, o.set|optOnError
		return nil
	}
}

// WithLocalTTL caps how long Tiered keeps a value in its local tier
// (default 1 minute; never longer than the value has left in Redis). It
// bounds staleness should an invalidation message be lost in a way the
// reconnect flush cannot see.
func WithLocalTTL(d time.Duration) Option {
	return func(o *options) error {
		if err := positive("WithLocalTTL", d); err != nil {
			return err
		}
		o.localTTL, o.set = d, o.set|optLocalTTL
		return nil
	}
}

// WithChannel sets Tiered's invalidation pub/sub channel (default: the
// Redis cache's prefix followed by "{}invalidate"). Instances share local
// invalidations exactly when they share the channel. The name must not be
// empty nor hold a brace, so that it can never be one of the channels this
// package derives from prefixes (ErrInvalidConfig).
func WithChannel(name string) Option {
	return func(o *options) error {
		if err := redisx.CheckName("WithChannel", name); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		o.channel, o.set = name, o.set|optChannel
		return nil
	}
}
