package queue

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// MemoryOption configures NewMemory: WithAging, WithClock, WithObserver,
// WithLogger, WithPollInterval.
type MemoryOption interface{ applyMemory(*config) error }

// RedisOption configures NewRedis: the options of MemoryOption plus
// WithName, WithPrefix, WithTimeout, WithVisibilityTimeout and
// WithoutPipelining. Each
// constructor takes its own option type, so an option that does not fit
// it is a compile error.
type RedisOption interface{ applyRedis(*config) error }

// Option fits both constructors.
type Option interface {
	MemoryOption
	RedisOption
}

type config struct {
	aging      time.Duration
	now        func() time.Time
	clockSet   bool
	observer   func(Event)
	logger     *slog.Logger
	poll       time.Duration
	name       string
	prefix     string
	timeout    time.Duration
	visibility time.Duration
	// unpipelined sends each Redis call on its own (WithoutPipelining).
	unpipelined bool
}

func defaults() config {
	return config{aging: DefaultAging, now: time.Now, poll: DefaultPollInterval, name: DefaultName,
		prefix: DefaultPrefix, timeout: DefaultTimeout, visibility: DefaultVisibilityTimeout}
}

// anyOption fits both constructors.
type anyOption func(*config) error

func (f anyOption) applyMemory(c *config) error { return f(c) }
func (f anyOption) applyRedis(c *config) error  { return f(c) }

// redisOption fits NewRedis only.
type redisOption func(*config) error

func (f redisOption) applyRedis(c *config) error { return f(c) }

// WithAging sets how long a due job waits before its effective priority
// rises one level (default DefaultAging, at most MaxAging). A Low job that
// has waited k periods competes as Low+k, so it is never starved; a fresh
// Critical still goes before Normals that waited less than two periods.
func WithAging(d time.Duration) Option {
	return anyOption(func(c *config) error {
		if d < time.Millisecond || d > MaxAging {
			return fmt.Errorf("%w: WithAging(%s): must be between 1ms and %s", ErrInvalidConfig, d, MaxAging)
		}
		c.aging = d
		return nil
	})
}

// WithClock sets the clock that decides when jobs are due and how long
// they have waited (default time.Now). On Redis the default is the Redis
// server's clock (TIME), so app servers with skewed clocks agree; set it
// there only in tests. Leases on Redis always use the server's clock.
func WithClock(now func() time.Time) Option {
	return anyOption(func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
		}
		c.now, c.clockSet = now, true
		return nil
	})
}

// WithObserver sets a function called synchronously with each Event (see
// EventKind). It must not block and must not call Close.
func WithObserver(fn func(Event)) Option {
	return anyOption(func(c *config) error {
		if fn == nil {
			return fmt.Errorf("%w: WithObserver(nil)", ErrInvalidConfig)
		}
		c.observer = fn
		return nil
	})
}

// WithLogger logs the events an operator must see (see EventKind) with
// structured attributes; never a payload. Nil, the default, logs nothing.
func WithLogger(l *slog.Logger) Option {
	return anyOption(func(c *config) error {
		c.logger = l
		return nil
	})
}

// WithPollInterval bounds how long a blocked Dequeue waits without being
// woken before it looks again (default DefaultPollInterval). Dequeue is
// woken by Enqueue (on Redis through a wake-up list any process can push
// to) and by a timer at the next due time; this interval only covers a
// lost wake-up, a wall clock that jumped, and a clock set by WithClock
// that moves without telling anyone.
func WithPollInterval(d time.Duration) Option {
	return anyOption(func(c *config) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithPollInterval(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		c.poll = d
		return nil
	})
}

// WithName sets the Redis queue's name (default DefaultName). Queues with
// different names in one Redis are independent; every key of a queue
// shares one hash slot, chosen by this name (never by job IDs). It must
// be non-empty and free of braces.
func WithName(name string) RedisOption {
	return redisOption(func(c *config) error {
		if err := redisx.CheckName("queue name", name); err != nil {
			return fmt.Errorf("%w: WithName: %w", ErrInvalidConfig, err)
		}
		c.name = name
		return nil
	})
}

// WithPrefix sets the Redis key prefix (default DefaultPrefix). It must
// not contain braces.
func WithPrefix(p string) RedisOption {
	return redisOption(func(c *config) error {
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %w", ErrInvalidConfig, err)
		}
		c.prefix = p
		return nil
	})
}

// WithTimeout bounds each Redis call (default DefaultTimeout), or the
// caller's ctx deadline if sooner. A call that timed out has an unknown
// outcome: an Enqueue may have landed (enqueue it again: ErrDuplicate says
// it did), an Ack may have removed the job.
func WithTimeout(d time.Duration) RedisOption {
	return redisOption(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive", ErrInvalidConfig, d)
		}
		c.timeout = d
		return nil
	})
}

// WithVisibilityTimeout sets how long a lease lasts without renewal
// (default DefaultVisibilityTimeout, at least 30ms). The queue renews its
// leases every third of it while the consumer works; a consumer that died
// loses its jobs to others this long after its last renewal. Shorter
// reclaims sooner; a process cut off from Redis for longer loses its
// leases (its Ack then returns ErrLeaseLost) and the job runs twice.
func WithVisibilityTimeout(d time.Duration) RedisOption {
	return redisOption(func(c *config) error {
		if d < 30*time.Millisecond {
			return fmt.Errorf("%w: WithVisibilityTimeout(%s): must be at least 30ms", ErrInvalidConfig, d)
		}
		c.visibility = d
		return nil
	})
}

// WithoutPipelining sends each of the queue's Redis calls (enqueues,
// dequeues, acks, renewals, reclaims) in a round trip of its own. By
// default, calls made concurrently on one client (by this queue's
// consumers and producers, or by any other package's Redis type on that
// client) ride pipelines together, each still bounded by WithTimeout on its
// own; a call with nothing else in flight goes straight out, so a lone
// consumer waits for no company. Concurrent Enqueues, and concurrent
// Dequeues and Nexts, are also merged into one script call each (group
// commit, see the package doc). Opt out where each call must be its own
// request and script on the wire. The wake-up listener's BLPOP is never
// pipelined.
func WithoutPipelining() RedisOption {
	return redisOption(func(c *config) error {
		c.unpipelined = true
		return nil
	})
}

func applyMemory(opts []MemoryOption) (config, error) {
	c := defaults()
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("%w: nil option", ErrInvalidConfig)
		}
		if err := o.applyMemory(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func applyRedis(opts []RedisOption) (config, error) {
	c := defaults()
	for _, o := range opts {
		if o == nil {
			return c, fmt.Errorf("%w: nil option", ErrInvalidConfig)
		}
		if err := o.applyRedis(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}
