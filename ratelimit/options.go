package ratelimit

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// The defaults of the limiters' options.
const (
	// DefaultPrefix is the Redis limiter's key prefix unless WithPrefix
	// says otherwise.
	DefaultPrefix = "ratelimit:"
	// DefaultTimeout bounds each Redis call unless WithTimeout or
	// WithoutTimeout says otherwise; WithTimeout says why this value.
	DefaultTimeout = 100 * time.Millisecond
)

// MemoryOption configures NewMemory. The set is sealed: only this
// package's With… functions make one, so an option that does not fit the
// memory limiter (WithPrefix, WithTimeout) does not compile.
type MemoryOption interface{ applyMemory(*memoryConfig) error }

// RedisOption configures NewRedis. Sealed like MemoryOption: WithClock or
// WithMaxKeys given to NewRedis does not compile.
type RedisOption interface{ applyRedis(*redisConfig) error }

// LimiterOption is an option every limiter constructor takes: NewMemory,
// NewRedis, NewLeased and the wrappers (Fallback, FailOpen, FailClosed). WithObserver
// and WithLogger are LimiterOptions.
type LimiterOption interface {
	MemoryOption
	RedisOption
	WrapOption
	LeaseOption
}

// Option is the Redis limiter's option type under its old name.
//
// Deprecated: use RedisOption, or MemoryOption for NewMemory. Option was
// once the option type of both constructors, checked at run time; it
// remains as an alias of RedisOption so that code collecting Redis options
// in a []Option keeps compiling.
type Option = RedisOption

// hooks are the observer and logger every limiter may have.
type hooks struct {
	observer func(Event)
	logger   *slog.Logger
}

// memoryConfig is what MemoryOptions set.
type memoryConfig struct {
	hooks
	now     func() time.Time // nil: the real clock
	maxKeys int
}

// redisConfig is what RedisOptions set.
type redisConfig struct {
	hooks
	prefix      string
	timeout     time.Duration
	unpipelined bool
}

type memoryOption func(*memoryConfig) error

func (f memoryOption) applyMemory(c *memoryConfig) error { return f(c) }

type redisOption func(*redisConfig) error

func (f redisOption) applyRedis(c *redisConfig) error { return f(c) }

// hookOption sets a hook on any limiter: its config's hooks.
type hookOption func(*hooks) error

func (f hookOption) applyMemory(c *memoryConfig) error { return f(&c.hooks) }
func (f hookOption) applyRedis(c *redisConfig) error   { return f(&c.hooks) }
func (f hookOption) applyWrap(c *wrapConfig) error     { return f(&c.hooks) }
func (f hookOption) applyLease(c *leaseConfig) error   { return f(&c.hooks) }

// ClockOption is WithClock's option: it fits NewMemory and NewLeased,
// whose time is the process's, and not NewRedis, whose time is the
// server's.
type ClockOption interface {
	MemoryOption
	LeaseOption
}

type clockOption func() time.Time

func (f clockOption) applyMemory(c *memoryConfig) error { c.now = f; return nil }
func (f clockOption) applyLease(c *leaseConfig) error   { c.now = f; return nil }

// badOption is an option that fails with err wherever it is given.
type badOption struct{ err error }

func (o badOption) applyMemory(*memoryConfig) error { return o.err }
func (o badOption) applyLease(*leaseConfig) error   { return o.err }

// WithClock sets the clock of the memory limiter and of Leased's lease
// expiry (default time.Now). Tests use it to step time exactly. The Redis
// limiter always uses the Redis server's clock, so that app servers with
// skewed clocks share one limit: it takes no clock.
func WithClock(now func() time.Time) ClockOption {
	if now == nil {
		return badOption{fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)}
	}
	return clockOption(now)
}

// WithPrefix sets the Redis key prefix (default DefaultPrefix). Give each
// service its own prefix if they share a Redis. A prefix must not be empty
// and must not contain braces, which would make it a Cluster hash tag and
// move every key of the limiter, SlidingWindowLog's per-key pairs
// included, into one slot.
func WithPrefix(p string) RedisOption {
	return redisOption(func(c *redisConfig) error {
		if p == "" {
			return fmt.Errorf("%w: WithPrefix(\"\"): an empty prefix would mix limiter keys with other data", ErrInvalidConfig)
		}
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %w", ErrInvalidConfig, err)
		}
		c.prefix = p
		return nil
	})
}

// WithMaxKeys caps how many keys the memory limiter tracks at once: never
// more than n. At the cap, the idle keys of the new key's shard are dropped
// to make room; if that frees nothing, the new key is denied with
// ErrTooManyKeys until sweeps drop idle keys elsewhere, while keys already
// tracked are decided as usual: a flood of new keys can be refused, but it
// cannot change anyone else's answer. New keys racing for the last places
// may both be refused. Each refusal is an EventTooManyKeys.
// Default: no cap (idle keys are still dropped).
func WithMaxKeys(n int) MemoryOption {
	return memoryOption(func(c *memoryConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxKeys(%d): must be at least 1", ErrInvalidConfig, n)
		}
		c.maxKeys = n
		return nil
	})
}

// WithTimeout bounds each Redis call (default DefaultTimeout): a Redis
// that is slow or unreachable yields an error within this time rather than
// stalling the request it guards. The caller's ctx deadline applies too,
// whichever is sooner. The bound holds on every go-redis client, whether or
// not it was built with ContextTimeoutEnabled.
//
// A call cut off by the bound may still run on Redis once Redis resumes
// and consume its quota: its outcome is unknown (see Redis.AllowN). The
// wrappers (Fallback, FailOpen, FailClosed) answer such a call in the
// limiter's place and do not retry it.
//
// Why DefaultTimeout is 100ms: a decision is one round trip and one short
// script, well under a millisecond on a healthy Redis, so 100ms leaves two
// orders of magnitude for a loaded server or a network hiccup, while a
// limiter that guards a request must not become most of that request's
// latency budget when Redis is down; the wrappers' cooldown (WithCooldown)
// then spares the following requests even that wait.
func WithTimeout(d time.Duration) RedisOption {
	return redisOption(func(c *redisConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive (WithoutTimeout turns the bound off)", ErrInvalidConfig, d)
		}
		c.timeout = d
		return nil
	})
}

// WithoutTimeout turns off the Redis limiter's own per-call bound: the
// caller's ctx deadline alone bounds a call, and it does on every client,
// including go-redis's default one, which ignores ctx deadlines for socket
// I/O (the limiter stops waiting at the deadline). With no deadline in ctx
// either, a call waits as long as the client lets it (go-redis: ReadTimeout,
// 3s by default, per attempt). Use it when every caller passes a ctx with a
// deadline of its own. On a client built with ContextTimeoutEnabled it
// saves the context and timer the bound costs (5 allocations per
// decision); on go-redis's default client the bound costs no allocation.
func WithoutTimeout() RedisOption {
	return redisOption(func(c *redisConfig) error {
		c.timeout = 0
		return nil
	})
}

// WithoutPipelining sends each of the Redis limiter's decisions in a round
// trip of its own. By default, decisions made concurrently on one client
// ride pipelines together (a decision with nothing else in flight goes
// straight out, so a lone caller waits for no company): at 64 goroutines
// that is several times the decisions per second of one call per round
// trip. Opt out where each call must be its own request on the wire, e.g.
// for a proxy or a server-side command log that expects that.
func WithoutPipelining() RedisOption {
	return redisOption(func(c *redisConfig) error {
		c.unpipelined = true
		return nil
	})
}

// WithObserver sets a function called with every Event the limiter or
// wrapper reports (see EventKind for which). It is called synchronously
// on the goroutine of the call that caused the event, never under a lock,
// concurrently from many goroutines: keep it quick (count, sample, hand
// off). Default: none.
func WithObserver(f func(Event)) LimiterOption {
	return hookOption(func(h *hooks) error {
		if f == nil {
			return fmt.Errorf("%w: WithObserver(nil)", ErrInvalidConfig)
		}
		h.observer = f
		return nil
	})
}

// WithLogger makes the limiter or wrapper log the events an operator must
// see on l, with structured attributes and never the rate-limit key (it may
// be a client address or a user id): see EventKind for each event's level.
// nil, the default, logs nothing.
func WithLogger(l *slog.Logger) LimiterOption {
	return hookOption(func(h *hooks) error {
		h.logger = l
		return nil
	})
}

func applyMemoryOptions(opts []MemoryOption) (memoryConfig, error) {
	var c memoryConfig
	for _, opt := range opts {
		if opt == nil {
			return c, fmt.Errorf("%w: nil MemoryOption", ErrInvalidConfig)
		}
		if err := opt.applyMemory(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func applyRedisOptions(opts []RedisOption) (redisConfig, error) {
	c := redisConfig{prefix: DefaultPrefix, timeout: DefaultTimeout}
	for _, opt := range opts {
		if opt == nil {
			return c, fmt.Errorf("%w: nil RedisOption", ErrInvalidConfig)
		}
		if err := opt.applyRedis(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}
