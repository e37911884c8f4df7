package saga

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Option configures a Saga (New).
type Option interface{ applySaga(*config) error }

// LogOption configures a RedisLog (NewRedisLog): WithPrefix, WithShards,
// WithTimeout, WithRetention. Each constructor takes its own option type,
// so an option that does not fit it is a compile error.
type LogOption interface{ applyLog(*logConfig) error }

// MemoryLogOption configures a MemoryLog (NewMemoryLog): WithClock,
// WithRetention.
type MemoryLogOption interface{ applyMemoryLog(*logConfig) error }

// AnyLogOption is an option that fits both logs: WithRetention.
type AnyLogOption interface {
	LogOption
	MemoryLogOption
}

// SagaAndMemoryLogOption is an option that configures both a Saga and a
// MemoryLog: WithClock. A RedisLog takes its time from the Redis server
// and has no clock option.
type SagaAndMemoryLogOption interface {
	Option
	MemoryLogOption
}

// SagaAndLogOption is the former name of SagaAndMemoryLogOption.
//
// Deprecated: use SagaAndMemoryLogOption.
type SagaAndLogOption = SagaAndMemoryLogOption

type optionFunc func(*config) error

func (f optionFunc) applySaga(c *config) error { return f(c) }

// redisLogOption fits RedisLog only.
type redisLogOption func(*logConfig) error

func (f redisLogOption) applyLog(c *logConfig) error { return f(c) }

// anyLogOption fits both logs.
type anyLogOption func(*logConfig) error

func (f anyLogOption) applyLog(c *logConfig) error       { return f(c) }
func (f anyLogOption) applyMemoryLog(c *logConfig) error { return f(c) }

// Recovery says how Recover finishes a saga whose process stopped before
// the saga failed at a step.
type Recovery int

const (
	// RollBack (the default) compensates what the stopped process did,
	// including the step that was running when it stopped, whose outcome
	// is unknown (its Compensate must be a no-op if its Action had no
	// effect). A step without Compensate that was running then is left as
	// it is: put such steps last, and prefer RollForward for them.
	RollBack Recovery = iota + 1
	// RollForward re-runs the step that was running (its Action must be
	// idempotent, see StepKey) and carries on; a step that then fails is
	// handled as usual, compensating the steps before it. A saga that was
	// already compensating goes on compensating.
	RollForward
)

// String returns "roll-back" or "roll-forward".
func (r Recovery) String() string {
	switch r {
	case RollBack:
		return "roll-back"
	case RollForward:
		return "roll-forward"
	}
	return fmt.Sprintf("Recovery(%d)", int(r))
}

type config struct {
	log      Log
	now      func() time.Time
	lease    time.Duration
	recovery Recovery
	action   Policy
	compen   Policy
	stepPols map[string][2]Policy
	observer func(Event)
	onFailed func(Event)
	logger   *slog.Logger
	metadata metadataFunc
	setClock bool
}

// DefaultLease is how long a process holds a saga without writing to its
// log before another process may take it over (WithLease).
const DefaultLease = 30 * time.Second

// WithLog sets the saga log. Default: a new MemoryLog, which survives
// neither a crash nor a restart; use NewRedisLog for sagas that must.
// Sagas with different names may share one log.
func WithLog(l Log) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return fmt.Errorf("%w: WithLog(nil)", ErrInvalidConfig)
		}
		c.log = l
		return nil
	})
}

type clockOption struct{ now func() time.Time }

func (o clockOption) applySaga(c *config) error {
	if o.now == nil {
		return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
	}
	c.now, c.setClock = o.now, true
	return nil
}

func (o clockOption) applyMemoryLog(c *logConfig) error {
	if o.now == nil {
		return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
	}
	c.now = o.now
	return nil
}

// WithClock sets the clock (default time.Now): of a Saga, for the times in
// its log entries, results and events (and of its default MemoryLog); of a
// MemoryLog, for leases and retention. Tests use it to expire leases
// without waiting. RedisLog always uses the Redis server's clock, so app
// servers with skewed clocks agree on leases, and takes no clock option.
func WithClock(now func() time.Time) SagaAndMemoryLogOption { return clockOption{now} }

// WithLease sets how long a process holds a saga (default DefaultLease).
// Every log write extends it, and while a step runs a heartbeat renews it
// every lease/3; when the process dies, the saga is Recover-able once the
// lease has expired. Shorter leases recover sooner, but a process cut off
// from its log for longer than the lease loses its sagas to others.
func WithLease(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithLease(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		c.lease = d
		return nil
	})
}

// WithRecovery sets how Recover finishes abandoned sagas (default
// RollBack).
func WithRecovery(r Recovery) Option {
	return optionFunc(func(c *config) error {
		if r != RollBack && r != RollForward {
			return fmt.Errorf("%w: WithRecovery(%d): want RollBack or RollForward", ErrInvalidConfig, int(r))
		}
		c.recovery = r
		return nil
	})
}

// WithActionPolicy sets the default Policy of every step's Action
// (default: DefaultActionAttempts tries, no timeout).
func WithActionPolicy(p Policy) Option {
	return optionFunc(func(c *config) error {
		if err := p.validate("WithActionPolicy"); err != nil {
			return err
		}
		c.action = p
		return nil
	})
}

// WithCompensationPolicy sets the default Policy of every step's
// Compensate (default: DefaultCompensationAttempts tries, backoff from
// DefaultBackoff to DefaultMaxBackoff, no timeout).
func WithCompensationPolicy(p Policy) Option {
	return optionFunc(func(c *config) error {
		if err := p.validate("WithCompensationPolicy"); err != nil {
			return err
		}
		c.compen = p
		return nil
	})
}

// WithStepPolicy sets the policies of one step's Action and Compensate;
// their zero fields fall back to the saga's defaults. Naming a step the
// saga does not have is an error.
func WithStepPolicy(step string, action, compensate Policy) Option {
	return optionFunc(func(c *config) error {
		if err := action.validate(fmt.Sprintf("WithStepPolicy(%q) action", step)); err != nil {
			return err
		}
		if err := compensate.validate(fmt.Sprintf("WithStepPolicy(%q) compensate", step)); err != nil {
			return err
		}
		if c.stepPols == nil {
			c.stepPols = make(map[string][2]Policy)
		}
		c.stepPols[step] = [2]Policy{action, compensate}
		return nil
	})
}

// WithObserver sets a function called with every transition, after it is
// logged, from the goroutine running the saga: keep it quick (log, count,
// time), it delays the saga.
func WithObserver(fn func(Event)) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: WithObserver(nil)", ErrInvalidConfig)
		}
		c.observer = fn
		return nil
	})
}

// WithOnFailed sets a function called when a saga ends Failed (a
// compensation gave up), with the Finished event, which names the step and
// its error: page someone, the saga needs an operator. It is called in
// addition to the observer.
func WithOnFailed(fn func(Event)) Option {
	return optionFunc(func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: WithOnFailed(nil)", ErrInvalidConfig)
		}
		c.onFailed = fn
		return nil
	})
}

type logConfig struct {
	now         func() time.Time
	prefix      string
	retention   time.Duration
	shards      int
	timeout     time.Duration
	unpipelined bool
}

// How long a log keeps a finished saga by default (WithRetention): a
// RedisLog a week, a MemoryLog, which holds about 1 KB per saga in the
// process's heap, ten minutes.
const (
	DefaultRetention       = 7 * 24 * time.Hour
	DefaultMemoryRetention = 10 * time.Minute
)

// WithRetention sets how long a log keeps a finished saga, so that Execute
// of its id returns its result rather than running it again (default
// DefaultRetention, DefaultMemoryRetention for a MemoryLog). After that
// the id is forgotten: make it longer than any client retries a request.
func WithRetention(d time.Duration) AnyLogOption {
	return anyLogOption(func(c *logConfig) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithRetention(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		c.retention = d
		return nil
	})
}

// DefaultPrefix is RedisLog's key prefix unless WithPrefix says otherwise.
const DefaultPrefix = "saga:"

// DefaultShards is how many index shards RedisLog has per saga name
// unless WithShards says otherwise.
const DefaultShards = 16

// WithPrefix sets RedisLog's key prefix (default DefaultPrefix). It must not
// contain '{' or '}': the log puts a hash tag after it.
func WithPrefix(p string) LogOption {
	return redisLogOption(func(c *logConfig) error {
		if p == "" {
			return fmt.Errorf("%w: WithPrefix(\"\"): an empty prefix would mix saga keys with other data", ErrInvalidConfig)
		}
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %v", ErrInvalidConfig, err)
		}
		c.prefix = p
		return nil
	})
}

// WithShards sets how many shards RedisLog's index of running sagas has
// per saga name (default DefaultShards). Each shard is one hash slot, holding its
// sagas and their index entry, so that every transition is one
// single-slot script; more shards spread a busy saga over more cluster
// nodes, and Recover reads every shard. Changing it strands the sagas
// running under the old value: change it only with none running.
func WithShards(n int) LogOption {
	return redisLogOption(func(c *logConfig) error {
		if n < 1 || n > 1024 {
			return fmt.Errorf("%w: WithShards(%d): must be between 1 and 1024", ErrInvalidConfig, n)
		}
		c.shards = n
		return nil
	})
}

// DefaultTimeout bounds each RedisLog call unless WithTimeout says
// otherwise. A log write sits between two steps of a business
// transaction, and one that times out has an unknown outcome and stops
// the saga until Recover takes it over a lease later: so it is generous
// beside the 100ms of the hot-path packages (a rate limiter, a breaker),
// riding out a slow fsync or a brief pause, yet below go-redis's default
// 3s ReadTimeout, so that the bound, not the socket, decides.
const DefaultTimeout = 2 * time.Second

// WithTimeout bounds each RedisLog call (default DefaultTimeout),
// including those made while compensating, which the caller's context
// does not bound; a sooner deadline of the caller's ctx wins. The bound
// holds on every client, with or without ContextTimeoutEnabled.
func WithTimeout(d time.Duration) LogOption {
	return redisLogOption(func(c *logConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive", ErrInvalidConfig, d)
		}
		c.timeout = d
		return nil
	})
}

// WithoutPipelining sends each RedisLog call in a round trip of its own.
// By default, log writes made concurrently on one client (by many sagas,
// or by any other package's Redis type on that client) ride pipelines
// together, each still bounded on its own; a write with nothing else in
// flight goes straight out, so a lone saga waits for no company. Opt out
// where each call must be its own request on the wire.
func WithoutPipelining() LogOption {
	return redisLogOption(func(c *logConfig) error {
		c.unpipelined = true
		return nil
	})
}

func applyLogOptions(opts []LogOption) (logConfig, error) {
	c := logConfig{now: time.Now, prefix: DefaultPrefix, shards: DefaultShards, timeout: DefaultTimeout, retention: DefaultRetention}
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("%w: nil LogOption", ErrInvalidConfig)
		}
		if err := o.applyLog(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func applyMemoryLogOptions(opts []MemoryLogOption) (logConfig, error) {
	c := logConfig{now: time.Now, retention: DefaultMemoryRetention}
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("%w: nil MemoryLogOption", ErrInvalidConfig)
		}
		if err := o.applyMemoryLog(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}
