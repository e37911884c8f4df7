package breaker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// keyTTL is how long a circuit's hash outlives its last change (plus
// OpenTimeout). A circuit without a hash is closed.
const keyTTL = 24 * time.Hour

// RedisStore shares circuits across a fleet: breakers with the same Name
// on the same RedisStore prefix, in any number of processes, trip, probe
// and close together.
//
// What a fleet sees, and how fast:
//
//   - Each breaker runs its closed-state calls on local state, with no
//     round trip, and judges its own thresholds from its own calls. When
//     one trips, it opens locally at once and tells Redis (one round trip
//     after the failing call); Redis publishes the change, and every other
//     breaker of the Name adopts it when the message arrives — about one
//     network hop later, before its next call in practice.
//   - As a safety net for lost messages (and with WithPubSub(false), the
//     only way), each breaker re-reads the shared state on its first call
//     after every WithSyncInterval (default DefaultSyncInterval): that
//     call pays one round trip. WithSyncInterval(0) makes every call
//     re-read it, so a breaker's next call after a trip anywhere is
//     refused, at one round trip per call.
//   - While open, calls are refused locally until the open time (taken
//     from the Redis server's clock) is over; from then on State reports
//     half-open (read locally, as for a memory breaker), and every call asks
//     Redis for a probe slot (one round trip): the HalfOpenMaxCalls quota is
//     fleet-wide. Probe outcomes are reported (one round trip after the
//     probe) and close or re-open the circuit for everyone.
//   - No lock is held while fn runs: every decision is one Lua script, one
//     round trip, atomic on the server. A probe that never reports (its
//     process died) is presumed lost after OpenTimeout, and new probes are
//     let through.
//
// When Redis is unreachable (an error, or no answer within WithTimeout,
// on every client whether or not it was built with ContextTimeoutEnabled),
// the breaker keeps working on its local state — trips, probes and closes
// by its own calls alone, as a memory breaker would — and
// Metrics().Detached is true. It tries Redis again on the first call after
// max(SyncInterval, timeout), and on success adopts the fleet's state,
// replacing whatever it decided alone.
//
// Breakers sharing a Name should share their Config: the OpenTimeout and
// HalfOpenMaxCalls of whichever breaker acts are the ones applied.
//
// Each Name is one Redis hash, prefix + "{" + Name + "}", whose TTL is 24h
// plus OpenTimeout after its last change; a circuit without one is closed.
// Every script touches that one key, so Redis Cluster works. Changes are
// published on the channel prefix + "events", which one goroutine per
// RedisStore listens to (started by the first New with this store; Close
// stops it). A subscription that stops answering is replaced; whenever it
// is (re)established every breaker re-reads its circuit, since changes
// published meanwhile were lost, and while it is down every breaker
// re-reads on its next call.
//
// When Redis loses the circuits (FLUSHALL, a restart without persistence)
// nothing fails: the store then reports every circuit closed, breakers
// keep a period they already adopted until it ends (an open circuit stays
// open for its OpenTimeout), and the next trip or probe writes the shared
// state again. A fleet that must not forget an open circuit across a
// Redis restart needs Redis persistence (appendonly yes).
type RedisStore struct {
	c           redis.UniversalClient
	bound       redisx.Bound // every script call: timeout or the caller's deadline
	prefix      string
	timeout     time.Duration
	interval    time.Duration
	pubsub      bool
	channel     string
	health      time.Duration // the listener's health interval (0: redisx's default; tests shorten it)
	unpipelined bool

	testClock func() time.Time // tests: "now" for the scripts instead of TIME

	mu       sync.Mutex
	subs     map[string][]weak.Pointer[Breaker]
	closed   bool
	listener *redisx.Listener // started by the first New with this store
	closing  context.Context  // ends with Close: bounds the listener's re-reads
	stop     context.CancelFunc
}

var _ Store = (*RedisStore)(nil)

// Defaults of the RedisStore options.
const (
	// DefaultPrefix is the Redis key and channel prefix (WithPrefix).
	DefaultPrefix = "breaker:"
	// DefaultTimeout bounds each Redis round trip (WithTimeout).
	DefaultTimeout = 100 * time.Millisecond
	// DefaultSyncInterval is how often a breaker re-reads the shared state
	// (WithSyncInterval).
	DefaultSyncInterval = time.Second
)

// StoreOption configures a RedisStore (NewRedisStore). It is sealed: only
// this package's With… functions make one.
type StoreOption interface{ applyStore(*RedisStore) error }

// storeOption adapts a function to StoreOption.
type storeOption func(*RedisStore) error

func (f storeOption) applyStore(s *RedisStore) error { return f(s) }

// WithPrefix sets the Redis key and channel prefix (default
// DefaultPrefix). Give each service its own if they share a Redis and may
// reuse Names. It must not be empty nor hold a brace (the Name's hash tag
// follows it).
func WithPrefix(p string) StoreOption {
	return storeOption(func(s *RedisStore) error {
		if p == "" {
			return fmt.Errorf("%w: WithPrefix(\"\"): an empty prefix would mix breaker keys with other data", ErrInvalidConfig)
		}
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %w", ErrInvalidConfig, err)
		}
		s.prefix = p
		return nil
	})
}

// WithTimeout bounds each Redis round trip (default DefaultTimeout): past
// it the breaker goes on with its local state. It holds on every client, whether
// or not it was built with ContextTimeoutEnabled; the caller's ctx
// deadline applies too, whichever is sooner. A call given up on may still
// have reached Redis (a trip or probe outcome the fleet then sees late).
func WithTimeout(d time.Duration) StoreOption {
	return storeOption(func(s *RedisStore) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive", ErrInvalidConfig, d)
		}
		s.timeout = d
		return nil
	})
}

// WithSyncInterval sets how often a breaker re-reads the shared state
// (default DefaultSyncInterval): the first call after each interval pays
// one round trip. 0 re-reads it on every call.
func WithSyncInterval(d time.Duration) StoreOption {
	return storeOption(func(s *RedisStore) error {
		if d < 0 {
			return fmt.Errorf("%w: WithSyncInterval(%s): must not be negative", ErrInvalidConfig, d)
		}
		s.interval = d
		return nil
	})
}

// WithPubSub turns the push of state changes on (the default) or off. Off,
// breakers learn of the fleet's changes only through their own operations
// and the periodic re-read (WithSyncInterval); use it where PUBLISH and
// SUBSCRIBE are not allowed.
func WithPubSub(enabled bool) StoreOption {
	return storeOption(func(s *RedisStore) error {
		s.pubsub = enabled
		return nil
	})
}

// WithoutPipelining sends each of the store's Redis calls in a round trip
// of its own. By default, calls made concurrently on one client (by many
// breakers, or by any other package's Redis type on that client) ride
// pipelines together, each still bounded on its own; a call with nothing
// else in flight goes straight out, so a lone caller waits for no
// company. Opt out where each call must be its own request on the wire.
func WithoutPipelining() StoreOption {
	return storeOption(func(s *RedisStore) error {
		s.unpipelined = true
		return nil
	})
}

// NewRedisStore returns a store on c (a *redis.Client, *redis.ClusterClient
// or failover client). Options: WithPrefix, WithTimeout, WithSyncInterval,
// WithPubSub, WithoutPipelining. Errors wrap ErrInvalidConfig.
func NewRedisStore(c redis.UniversalClient, opts ...StoreOption) (*RedisStore, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	s := &RedisStore{
		c:        c,
		prefix:   DefaultPrefix,
		timeout:  DefaultTimeout,
		interval: DefaultSyncInterval,
		pubsub:   true,
		subs:     make(map[string][]weak.Pointer[Breaker]),
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil StoreOption", ErrInvalidConfig)
		}
		if err := opt.applyStore(s); err != nil {
			return nil, err
		}
	}
	s.channel = s.prefix + "events"
	s.bound = redisx.NewBound(c, s.timeout)
	if s.unpipelined {
		s.bound = s.bound.WithoutPipelining()
	}
	s.closing, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// Close stops the store's listener goroutine. Breakers on the store keep
// working, learning of the fleet's changes by the periodic re-read only;
// New refuses a closed store. Close does not close the Redis client.
func (s *RedisStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	l := s.listener
	s.mu.Unlock()
	s.stop() // first: re-reads under way give up at once
	if l != nil {
		l.Close()
	}
	return nil
}

func (s *RedisStore) attach(b *Breaker, cfg *settings) error {
	if err := redisx.CheckName("Name", cfg.Name); err != nil {
		// The Name is the hash tag of its key: a brace in it would let
		// one Name's key read as another's tag.
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	r := &redisRemote{
		s:    s,
		keys: []string{s.prefix + "{" + cfg.Name + "}"},
		static: []any{
			strconv.FormatInt(ceilDiv(int64(keyTTL+cfg.OpenTimeout), int64(time.Millisecond)), 10),
			"",
			cfg.Name,
			strconv.FormatInt(ceilDiv(int64(cfg.OpenTimeout), int64(time.Microsecond)), 10),
			strconv.Itoa(cfg.HalfOpenMaxCalls),
		},
	}
	if s.pubsub {
		r.static[1] = s.channel
	}
	retry := max(s.interval, s.timeout)
	b.link = newLink(r, int64(s.interval), int64(retry))

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("%w: the Store is closed", ErrInvalidConfig)
	}
	if s.pubsub {
		s.subs[cfg.Name] = append(live(s.subs[cfg.Name]), weak.Make(b))
		if s.listener == nil {
			s.listener = s.listen()
		}
	}
	return nil
}
