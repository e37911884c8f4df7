package cqrs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Option configures the Redis-backed types: RedisStore, RedisSnapshotStore,
// RedisCheckpointStore and RedisReadModel. An option that does not apply
// to the type being built is an error from its constructor, not silently
// ignored.
type Option func(*options) error

type options struct {
	prefix  string
	timeout time.Duration
	block   time.Duration
	ttl     time.Duration

	set map[string]bool
}

// Default values of the options.
//
// DefaultTimeout is generous beside the 100ms of the hot-path packages (a
// rate limiter, a breaker): an append that times out has an unknown
// outcome, which costs its caller a retry (safe with event ids, see
// WithTimeout), so the bound rides out a slow fsync or a brief pause; and
// it stays below go-redis's default 3s ReadTimeout, so that the bound, not
// the socket, decides. It is the saga log's too.
const (
	DefaultPrefix      = "cqrs:"
	DefaultTimeout     = 2 * time.Second
	DefaultBlock       = 250 * time.Millisecond
	DefaultSnapshotTTL = 7 * 24 * time.Hour
)

// WithPrefix sets the key prefix (default "cqrs:"). It must not contain
// '{' or '}': the types put hash tags after it (see RedisStore for the key
// layout). Stores with different prefixes sit in different hash slots.
func WithPrefix(p string) Option {
	return func(o *options) error {
		if p == "" {
			return fmt.Errorf("%w: WithPrefix(\"\"): an empty prefix would mix cqrs keys with other data", ErrInvalidConfig)
		}
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %v", ErrInvalidConfig, err)
		}
		o.prefix = p
		o.set["prefix"] = true
		return nil
	}
}

// WithTimeout bounds each Redis call (default DefaultTimeout); the
// caller's ctx deadline applies too, whichever is sooner, and the call
// returns by it on every client. Create the client with
// ContextTimeoutEnabled so go-redis cuts a hung call itself; without it a
// call still returns at the deadline, its reply awaited by a goroutine
// that the client's ReadTimeout ends. An append cut so has an unknown
// outcome: retry it with event ids (WithID) to make that safe.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive", ErrInvalidConfig, d)
		}
		o.timeout = d
		o.set["timeout"] = true
		return nil
	}
}

// WithBlock sets how long RedisStore.Wait blocks in one XREAD before it
// returns to let its caller look around (default 250ms). It bounds how long
// a Runner on the store takes to stop after its ctx is cancelled, since
// go-redis does not interrupt a blocked read on cancellation. RedisStore
// only.
func WithBlock(d time.Duration) Option {
	return func(o *options) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithBlock(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		o.block = d
		o.set["block"] = true
		return nil
	}
}

// WithSnapshotTTL sets how long a snapshot lives in Redis after it was
// last saved (default 7 days). Snapshots are a cache: an aggregate whose
// snapshot expired is replayed in full once and snapshotted again.
// RedisSnapshotStore only.
func WithSnapshotTTL(d time.Duration) Option {
	return func(o *options) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithSnapshotTTL(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		o.ttl = d
		o.set["ttl"] = true
		return nil
	}
}

// applyOptions applies opts for the constructor named who, which accepts
// the options named in allowed besides prefix and timeout.
func applyOptions(who string, opts []Option, allowed ...string) (options, error) {
	o := options{prefix: DefaultPrefix, timeout: DefaultTimeout, block: DefaultBlock, ttl: DefaultSnapshotTTL, set: map[string]bool{}}
	for _, opt := range opts {
		if opt == nil {
			return o, fmt.Errorf("%w: %s: nil Option", ErrInvalidConfig, who)
		}
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	ok := map[string]bool{"prefix": true, "timeout": true}
	for _, a := range allowed {
		ok[a] = true
	}
	names := map[string]string{"block": "WithBlock", "ttl": "WithSnapshotTTL"}
	for k := range o.set {
		if !ok[k] {
			return o, fmt.Errorf("%w: %s does not take %s", ErrInvalidConfig, who, names[k])
		}
	}
	return o, nil
}

// tagged returns the key base prefix + "{" + prefix without its trailing
// ':' + suffix + "}:", so that keys start with the prefix and prefixes
// differ in their hash slots. Neither prefix nor suffix holds a brace, so
// the tag is the one written here: what follows it may hold any bytes.
func tagged(prefix, suffix string) string {
	return prefix + "{" + strings.TrimSuffix(prefix, ":") + suffix + "}:"
}

// spread is FNV-1a of s, in hex: a hash tag part that spreads keys of
// different s over the cluster's slots without s choosing the slot.
func spread(s string) string {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return strconv.FormatUint(uint64(h), 16)
}
