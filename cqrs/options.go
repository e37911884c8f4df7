package cqrs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Each Redis-backed constructor takes its own option type, so that an
// option that does not fit it is a compile error: Option (NewRedisStore),
// SnapshotStoreOption (NewRedisSnapshotStore), CheckpointStoreOption
// (NewRedisCheckpointStore) and ReadModelOption (NewRedisReadModel).
// WithPrefix and WithTimeout fit them all (RedisOption).

// Option configures a RedisStore: WithPrefix, WithTimeout, WithBlock,
// WithoutPipelining.
type Option interface{ applyStore(*options) error }

// SnapshotStoreOption configures a RedisSnapshotStore: WithPrefix,
// WithTimeout, WithSnapshotTTL.
type SnapshotStoreOption interface{ applySnapshotStore(*options) error }

// CheckpointStoreOption configures a RedisCheckpointStore: WithPrefix,
// WithTimeout.
type CheckpointStoreOption interface{ applyCheckpointStore(*options) error }

// ReadModelOption configures a RedisReadModel: WithPrefix, WithTimeout,
// WithoutPipelining, WithPrefetch.
type ReadModelOption interface{ applyReadModel(*options) error }

// RedisOption fits every Redis-backed constructor: WithPrefix,
// WithTimeout, WithoutPipelining.
type RedisOption interface {
	Option
	SnapshotStoreOption
	CheckpointStoreOption
	ReadModelOption
}

type options struct {
	prefix      string
	timeout     time.Duration
	block       time.Duration
	ttl         time.Duration
	unpipelined bool
	prefetch    func(Event) (string, bool)
}

// redisOption fits every Redis-backed constructor.
type redisOption func(*options) error

func (f redisOption) applyStore(o *options) error           { return f(o) }
func (f redisOption) applySnapshotStore(o *options) error   { return f(o) }
func (f redisOption) applyCheckpointStore(o *options) error { return f(o) }
func (f redisOption) applyReadModel(o *options) error       { return f(o) }

// storeOption fits NewRedisStore only.
type storeOption func(*options) error

func (f storeOption) applyStore(o *options) error { return f(o) }

// readModelOption fits NewRedisReadModel only.
type readModelOption func(*options) error

func (f readModelOption) applyReadModel(o *options) error { return f(o) }

// snapshotStoreOption fits NewRedisSnapshotStore only.
type snapshotStoreOption func(*options) error

func (f snapshotStoreOption) applySnapshotStore(o *options) error { return f(o) }

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

// WithPrefix sets the key prefix (default DefaultPrefix). It must not contain
// '{' or '}': the types put hash tags after it (see RedisStore for the key
// layout). Stores with different prefixes sit in different hash slots.
func WithPrefix(p string) RedisOption {
	return redisOption(func(o *options) error {
		if p == "" {
			return fmt.Errorf("%w: WithPrefix(\"\"): an empty prefix would mix cqrs keys with other data", ErrInvalidConfig)
		}
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %v", ErrInvalidConfig, err)
		}
		o.prefix = p
		return nil
	})
}

// WithTimeout bounds each Redis call (default DefaultTimeout); the
// caller's ctx deadline applies too, whichever is sooner, and the call
// returns by it on every client. Create the client with
// ContextTimeoutEnabled so go-redis cuts a hung call itself; without it a
// call still returns at the deadline, its reply awaited by a goroutine
// that the client's ReadTimeout ends. An append cut so has an unknown
// outcome: retry it with event ids (WithID) to make that safe.
func WithTimeout(d time.Duration) RedisOption {
	return redisOption(func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive", ErrInvalidConfig, d)
		}
		o.timeout = d
		return nil
	})
}

// WithoutPipelining sends each Redis call in a round trip of its own. By
// default, calls made concurrently on one client (appends, loads,
// checkpoints, by this type or any other package's Redis type on that
// client) ride pipelines together, each still bounded on its own; a call
// with nothing else in flight goes straight out, so a lone caller waits
// for no company. RedisStore also merges concurrent Appends into batch
// script calls (see RedisStore); this option turns that off too. Opt out
// where each call must be its own request on the wire.
func WithoutPipelining() RedisOption {
	return redisOption(func(o *options) error {
		o.unpipelined = true
		return nil
	})
}

// WithBlock sets how long RedisStore.Wait blocks in one XREAD before it
// returns to let its caller look around (default DefaultBlock). It bounds how long
// a Runner on the store takes to stop after its ctx is cancelled, since
// go-redis does not interrupt a blocked read on cancellation.
func WithBlock(d time.Duration) Option {
	return storeOption(func(o *options) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithBlock(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		o.block = d
		return nil
	})
}

// WithSnapshotTTL sets how long a snapshot lives in Redis after it was
// last saved (default DefaultSnapshotTTL). Snapshots are a cache: an aggregate whose
// snapshot expired is replayed in full once and snapshotted again.
func WithSnapshotTTL(d time.Duration) SnapshotStoreOption {
	return snapshotStoreOption(func(o *options) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithSnapshotTTL(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		o.ttl = d
		return nil
	})
}

// applyOptions applies opts, through apply, over the defaults, for the
// constructor named who.
func applyOptions[O comparable](who string, opts []O, apply func(O, *options) error) (options, error) {
	o := options{prefix: DefaultPrefix, timeout: DefaultTimeout, block: DefaultBlock, ttl: DefaultSnapshotTTL}
	var zero O
	for _, opt := range opts {
		if opt == zero {
			return o, fmt.Errorf("%w: %s: nil option", ErrInvalidConfig, who)
		}
		if err := apply(opt, &o); err != nil {
			return o, err
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
