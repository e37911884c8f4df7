package ratelimit

import (
	"fmt"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Option configures a limiter. Options that do not apply to a backend are
// an error from its constructor, not silently ignored.
type Option func(*options) error

type options struct {
	now     func() time.Time
	prefix  string
	maxKeys int
	timeout time.Duration

	setNow, setPrefix, setMaxKeys, setTimeout bool
}

// WithClock sets the memory limiter's clock (default time.Now). Tests use it
// to step time exactly. The Redis limiter always uses the Redis server's
// clock, so that app servers with skewed clocks share one limit; giving it a
// clock is an error.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
		}
		o.now, o.setNow = now, true
		return nil
	}
}

// WithPrefix sets the Redis key prefix (default "ratelimit:"). Give each
// service its own prefix if they share a Redis. A prefix must not be empty
// and must not contain braces, which would make it a Cluster hash tag and
// move every key of the limiter, SlidingWindowLog's per-key pairs
// included, into one slot.
func WithPrefix(p string) Option {
	return func(o *options) error {
		if p == "" {
			return fmt.Errorf("%w: WithPrefix(\"\"): an empty prefix would mix limiter keys with other data", ErrInvalidConfig)
		}
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %w", ErrInvalidConfig, err)
		}
		o.prefix, o.setPrefix = p, true
		return nil
	}
}

// WithMaxKeys caps how many keys the memory limiter tracks at once: never
// more than n. At the cap, the idle keys of the new key's shard are dropped
// to make room; if that frees nothing, the new key is denied with
// ErrTooManyKeys until sweeps drop idle keys elsewhere, while keys already
// tracked are decided as usual: a flood of new keys can be refused, but it
// cannot change anyone else's answer. New keys racing for the last places
// may both be refused.
// Default: no cap (idle keys are still dropped).
func WithMaxKeys(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxKeys(%d): must be at least 1", ErrInvalidConfig, n)
		}
		o.maxKeys, o.setMaxKeys = n, true
		return nil
	}
}

// WithTimeout bounds each Redis call (default 100ms): a Redis that is slow
// or unreachable yields an error within this time rather than stalling the
// request it guards. The caller's ctx deadline applies too, whichever is
// sooner. The bound holds on every go-redis client, whether or not it was
// built with ContextTimeoutEnabled.
//
// A call cut off by the bound may still run on Redis once Redis resumes
// and consume its quota: its outcome is unknown (see Redis.AllowN). The
// wrappers (Fallback, FailOpen, FailClosed) answer such a call in the
// limiter's place and do not retry it.
//
// Why 100ms: a decision is one round trip and one short script, well under
// a millisecond on a healthy Redis, so 100ms leaves two orders of magnitude
// for a loaded server or a network hiccup, while a limiter that guards a
// request must not become most of that request's latency budget when Redis
// is down; the wrappers' Cooldown then spares the following requests even
// that wait.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive (WithoutTimeout turns the bound off)", ErrInvalidConfig, d)
		}
		o.timeout, o.setTimeout = d, true
		return nil
	}
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
func WithoutTimeout() Option {
	return func(o *options) error {
		o.timeout, o.setTimeout = 0, true
		return nil
	}
}

func applyOptions(opts []Option) (options, error) {
	o := options{now: time.Now, prefix: "ratelimit:", timeout: 100 * time.Millisecond}
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
