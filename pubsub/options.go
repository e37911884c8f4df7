package pubsub

import (
	"fmt"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Each constructor takes options of its own type, so that an option that
// does not fit it is a compile error rather than a run-time one. An option
// that fits several implements several of these interfaces (see the
// combined interfaces below). The interfaces are sealed: only this
// package's With… functions implement them.
type (
	// MemoryOption configures NewMemory.
	MemoryOption interface{ applyMemory(*busConfig) error }
	// RedisOption configures NewRedis.
	RedisOption interface{ applyRedis(*busConfig) error }
	// BroadcastOption configures NewBroadcast.
	BroadcastOption interface{ applyBroadcast(*busConfig) error }
	// SubscribeOption configures one subscription (Subscribe). Subscribe
	// is a method of the Bus interface, so its options cannot be told
	// apart by backend at compile time: WithQueueSize and WithOverflow
	// given to a Redis bus's Subscribe, and WithConsumer given to a memory
	// or broadcast bus's, are an error wrapping ErrInvalidConfig.
	SubscribeOption interface{ applySub(*subConfig) error }

	// BusOption fits every bus constructor: WithClock, WithDrainTimeout,
	// WithDeadLetterTopic, WithObserver, WithLogger.
	BusOption interface {
		MemoryOption
		RedisOption
		BroadcastOption
	}
	// DeliveryOption is an option about delivering to a subscription:
	// given to a constructor it sets the bus's default, given to Subscribe
	// it applies to that subscription. WithWorkers, WithMaxAttempts,
	// WithBackoff.
	DeliveryOption interface {
		BusOption
		SubscribeOption
	}
	// QueueOption is an option about in-memory queues, which a Redis bus
	// does not have (a group's backlog is its stream, see WithMaxLen): it
	// fits NewMemory, NewBroadcast and Subscribe. WithQueueSize,
	// WithOverflow.
	QueueOption interface {
		MemoryOption
		BroadcastOption
		SubscribeOption
	}
	// RedisAndBroadcastOption fits the two buses on Redis: WithPrefix,
	// WithNamespace, WithTimeout.
	RedisAndBroadcastOption interface {
		RedisOption
		BroadcastOption
	}
)

// Option is NewMemory's option type under its old name.
//
// Deprecated: every constructor has an option type of its own: use
// MemoryOption, RedisOption or BroadcastOption (a slice of options shared
// by several constructors is a []BusOption or []DeliveryOption, spread
// into each by a loop). Option was the option type of all three, checked
// at run time; it remains as an alias of MemoryOption so that
// NewMemory(opts...) with an []Option keeps compiling.
type Option = MemoryOption

// Overflow is what Publish does when a memory subscription's queue is full.
type Overflow int

const (
	// OverflowBlock (the default) makes Publish wait for room, until its
	// context is done: nothing is lost, a slow subscriber slows publishers.
	OverflowBlock Overflow = iota + 1
	// OverflowDropOldest discards the oldest queued message to make room.
	OverflowDropOldest
	// OverflowDropNewest discards the message being published (for this
	// subscription only).
	OverflowDropNewest
	// OverflowError makes Publish return an error wrapping ErrQueueFull
	// (after queueing the message to every other subscription).
	OverflowError
)

// String returns "block", "drop-oldest", "drop-newest" or "error".
func (o Overflow) String() string {
	switch o {
	case OverflowBlock:
		return "block"
	case OverflowDropOldest:
		return "drop-oldest"
	case OverflowDropNewest:
		return "drop-newest"
	case OverflowError:
		return "error"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// The defaults of the options.
const (
	// DefaultQueueSize is a memory subscription's queue capacity
	// (WithQueueSize).
	DefaultQueueSize = 1024
	// DefaultWorkers is how many goroutines run a subscription's handler
	// (WithWorkers): one keeps publish order.
	DefaultWorkers = 1
	// DefaultMaxAttempts is how many deliveries a failing message gets
	// before it is dead-lettered (WithMaxAttempts).
	DefaultMaxAttempts = 5
	// DefaultBackoffMin and DefaultBackoffMax bound the retry backoff
	// (WithBackoff): well under a second for the first retry.
	DefaultBackoffMin = 100 * time.Millisecond
	DefaultBackoffMax = 10 * time.Second
	// DefaultDrainTimeout bounds how long Close and Unsubscribe wait for
	// in-flight handlers (WithDrainTimeout).
	DefaultDrainTimeout = 10 * time.Second
	// DefaultDeadTopic is the dead-letter topic (WithDeadLetterTopic).
	DefaultDeadTopic = "deadletter"
	// DefaultPrefix is the Redis key and channel prefix (WithPrefix).
	DefaultPrefix = "pubsub:"
	// DefaultNamespace is the Redis namespace (WithNamespace).
	DefaultNamespace = "bus"
	// DefaultMaxLen is the safety cap of a Redis group stream (WithMaxLen).
	DefaultMaxLen = 100_000
	// DefaultVisibility is the Redis visibility timeout
	// (WithVisibilityTimeout).
	DefaultVisibility = 30 * time.Second
	// DefaultReadBlock is how long one Redis read waits (WithReadBlock).
	DefaultReadBlock = time.Second
	// DefaultBatch is how many entries one Redis read fetches (WithBatch).
	DefaultBatch = 32
	// DefaultTimeout bounds each Redis call (see WithTimeout). A durable
	// write may wait for an fsync (appendfsync always) or a Cluster
	// redirection, and a call that times out has an unknown outcome (a
	// retried Publish stores the message twice, under two IDs), so the
	// bound is loose enough for a slow disk, and still short enough that a
	// frozen Redis holds a publisher for 2 s, not 5.
	DefaultTimeout = 2 * time.Second
)

// Upper bounds of options: past them a value is a mistake, not a choice,
// and would exhaust memory (a queue is allocated whole) or overflow the
// arithmetic of durations.
const (
	// MaxQueueSize bounds WithQueueSize: a queue of 1<<20 messages is 8 MiB
	// of pointers, allocated when the subscription is made.
	MaxQueueSize = 1 << 20
	// MaxTimeout bounds WithTimeout and WithReadBlock.
	MaxTimeout = time.Minute
	// MaxVisibility bounds WithVisibilityTimeout.
	MaxVisibility = 24 * time.Hour
	// MaxWorkers bounds WithWorkers.
	MaxWorkers = 4096
	// MaxBatch bounds WithBatch.
	MaxBatch = 10_000
)

// delivery is what may be set per bus (as default) and per subscription.
type delivery struct {
	queueSize   int
	workers     int
	overflow    Overflow
	maxAttempts int
	backoffMin  time.Duration
	backoffMax  time.Duration

	setQueue, setOverflow bool // given to Subscribe: refused by a Redis bus
}

// retryWait is the wait before retry number attempt (1 = the first retry).
func (d *delivery) retryWait(attempt int) time.Duration {
	return backoff.Policy{Min: d.backoffMin, Max: d.backoffMax, Jitter: backoff.Equal}.Wait(attempt)
}

type busConfig struct {
	delivery
	hooks
	now          func() time.Time
	drainTimeout time.Duration
	deadTopic    string

	// Redis and Broadcast
	prefix    string
	namespace string
	timeout   time.Duration

	// Redis
	maxLen      int64
	visibility  time.Duration
	readBlock   time.Duration
	batch       int
	unpipelined bool
}

type subConfig struct {
	delivery
	group    string
	consumer string
}

func defaultBusConfig() busConfig {
	return busConfig{
		delivery: delivery{
			queueSize: DefaultQueueSize, workers: DefaultWorkers, overflow: OverflowBlock,
			maxAttempts: DefaultMaxAttempts, backoffMin: DefaultBackoffMin, backoffMax: DefaultBackoffMax,
		},
		now: time.Now, drainTimeout: DefaultDrainTimeout, deadTopic: DefaultDeadTopic,
		prefix: DefaultPrefix, namespace: DefaultNamespace, maxLen: DefaultMaxLen, visibility: DefaultVisibility,
		readBlock: DefaultReadBlock, batch: DefaultBatch, timeout: DefaultTimeout,
	}
}

// applyOptions runs opts against a default configuration with the
// constructor's apply method, refusing nil options.
func applyOptions[O any](opts []O, apply func(O, *busConfig) error) (busConfig, error) {
	c := defaultBusConfig()
	for _, o := range opts {
		if any(o) == nil {
			return c, fmt.Errorf("%w: nil option", ErrInvalidConfig)
		}
		if err := apply(o, &c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (c *busConfig) subConfig(opts []SubscribeOption) (subConfig, error) {
	s := subConfig{delivery: c.delivery}
	s.setQueue, s.setOverflow = false, false
	for _, o := range opts {
		if o == nil {
			return s, fmt.Errorf("%w: nil SubscribeOption", ErrInvalidConfig)
		}
		if err := o.applySub(&s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// deliveryOption fits every constructor and Subscribe.
type deliveryOption func(*delivery) error

func (f deliveryOption) applyMemory(c *busConfig) error    { return f(&c.delivery) }
func (f deliveryOption) applyRedis(c *busConfig) error     { return f(&c.delivery) }
func (f deliveryOption) applyBroadcast(c *busConfig) error { return f(&c.delivery) }
func (f deliveryOption) applySub(c *subConfig) error       { return f(&c.delivery) }

// queueOption fits NewMemory, NewBroadcast and Subscribe.
type queueOption func(*delivery) error

func (f queueOption) applyMemory(c *busConfig) error    { return f(&c.delivery) }
func (f queueOption) applyBroadcast(c *busConfig) error { return f(&c.delivery) }
func (f queueOption) applySub(c *subConfig) error       { return f(&c.delivery) }

// busOption fits every constructor.
type busOption func(*busConfig) error

func (f busOption) applyMemory(c *busConfig) error    { return f(c) }
func (f busOption) applyRedis(c *busConfig) error     { return f(c) }
func (f busOption) applyBroadcast(c *busConfig) error { return f(c) }

// remoteOption fits NewRedis and NewBroadcast.
type remoteOption func(*busConfig) error

func (f remoteOption) applyRedis(c *busConfig) error     { return f(c) }
func (f remoteOption) applyBroadcast(c *busConfig) error { return f(c) }

// redisOption fits NewRedis only.
type redisOption func(*busConfig) error

func (f redisOption) applyRedis(c *busConfig) error { return f(c) }

type subOption func(*subConfig) error

func (f subOption) applySub(c *subConfig) error { return f(c) }

// WithGroup makes the subscription a member of group name: the members of
// a group share its messages (each goes to one of them), and each group
// gets every message. A group is bound to one pattern; subscribing to it
// with another is an error wrapping ErrGroupBound. On Redis a group is
// durable: messages published while all its members are down wait for
// them. A memory group retires with its last member (see Memory).
func WithGroup(name string) SubscribeOption {
	return subOption(func(c *subConfig) error {
		if err := validateGroup(name); err != nil {
			return fmt.Errorf("%w: WithGroup: %w", ErrInvalidConfig, err)
		}
		c.group = name
		return nil
	})
}

// WithConsumer names the Redis consumer of a subscription in its group
// (default: host-pid-random). A process that restarts with the same name
// first redelivers the messages it held when it stopped; other processes
// reclaim them only after the visibility timeout. A name must be used by
// one running subscription at a time: each takes the entries pending
// under its name that it does not hold for lost deliveries of its own,
// so two subscriptions sharing one would deliver each other's messages
// again. Memory and broadcast buses refuse it (ErrInvalidConfig).
func WithConsumer(name string) SubscribeOption {
	return subOption(func(c *subConfig) error {
		if err := validateGroup(name); err != nil {
			return fmt.Errorf("%w: WithConsumer: %w", ErrInvalidConfig, err)
		}
		c.consumer = name
		return nil
	})
}

// WithQueueSize sets a memory subscription's queue capacity (default
// DefaultQueueSize), from 1 to MaxQueueSize: the queue is allocated whole
// when the subscription is made. A group has one queue, sized by its first
// member (or by the bus's default, for a group made by DeclareGroup).
func WithQueueSize(n int) QueueOption {
	return queueOption(func(d *delivery) error {
		if n < 1 || n > MaxQueueSize {
			return fmt.Errorf("%w: WithQueueSize(%d): must be between 1 and %d (MaxQueueSize)", ErrInvalidConfig, n, MaxQueueSize)
		}
		d.queueSize, d.setQueue = n, true
		return nil
	})
}

// WithWorkers sets how many goroutines run a subscription's handler
// (default DefaultWorkers, which delivers in publish order), from 1 to
// MaxWorkers. More workers give throughput and lose ordering.
func WithWorkers(n int) DeliveryOption {
	return deliveryOption(func(d *delivery) error {
		if n < 1 || n > MaxWorkers {
			return fmt.Errorf("%w: WithWorkers(%d): must be between 1 and %d (MaxWorkers)", ErrInvalidConfig, n, MaxWorkers)
		}
		d.workers = n
		return nil
	})
}

// WithOverflow sets a memory subscription's policy for a full queue
// (default OverflowBlock, which loses nothing).
func WithOverflow(o Overflow) QueueOption {
	return queueOption(func(d *delivery) error {
		if o < OverflowBlock || o > OverflowError {
			return fmt.Errorf("%w: WithOverflow(%d): unknown policy", ErrInvalidConfig, int(o))
		}
		d.overflow, d.setOverflow = o, true
		return nil
	})
}

// WithMaxAttempts sets how many times a message is delivered to a failing
// handler before it goes to the dead-letter topic (default
// DefaultMaxAttempts; 1 means no retries).
func WithMaxAttempts(n int) DeliveryOption {
	return deliveryOption(func(d *delivery) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxAttempts(%d): must be at least 1", ErrInvalidConfig, n)
		}
		d.maxAttempts = n
		return nil
	})
}

// WithBackoff sets the retry backoff: the wait before retry k is
// min·2^(k-1), capped at max, with equal jitter (between half and all of
// it). Default DefaultBackoffMin, DefaultBackoffMax. Zero is allowed:
// retry at once.
func WithBackoff(min, max time.Duration) DeliveryOption {
	return deliveryOption(func(d *delivery) error {
		if min < 0 || max < min {
			return fmt.Errorf("%w: WithBackoff(%s, %s): want 0 <= min <= max", ErrInvalidConfig, min, max)
		}
		d.backoffMin, d.backoffMax = min, max
		return nil
	})
}

// WithClock sets the clock that stamps Message.PublishedAt (default
// time.Now).
func WithClock(now func() time.Time) BusOption {
	return busOption(func(c *busConfig) error {
		if now == nil {
			return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
		}
		c.now = now
		return nil
	})
}

// WithDrainTimeout bounds how long Close and Unsubscribe wait for
// in-flight handlers (default DefaultDrainTimeout); then their contexts are
// cancelled and Close returns an error wrapping ErrDrainTimeout.
func WithDrainTimeout(d time.Duration) BusOption {
	return busOption(func(c *busConfig) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithDrainTimeout(%s): must be positive", ErrInvalidConfig, d)
		}
		c.drainTimeout = d
		return nil
	})
}

// WithDeadLetterTopic sets the topic that messages go to after
// MaxAttempts failed deliveries (default DefaultDeadTopic). Subscribe to it
// to see them; a dead letter whose own handler fails is dropped, not
// dead-lettered again.
func WithDeadLetterTopic(topic string) BusOption {
	return busOption(func(c *busConfig) error {
		if err := ValidateTopic(topic); err != nil {
			return fmt.Errorf("%w: WithDeadLetterTopic: %w", ErrInvalidConfig, err)
		}
		c.deadTopic = topic
		return nil
	})
}

// WithPrefix sets the Redis key (or, for Broadcast, channel) prefix
// (default DefaultPrefix). It must not contain braces: the bus adds a hash
// tag after it.
func WithPrefix(p string) RedisAndBroadcastOption {
	return remoteOption(func(c *busConfig) error {
		if p == "" {
			return fmt.Errorf("%w: WithPrefix(\"\"): must be non-empty", ErrInvalidConfig)
		}
		if err := redisx.CheckPrefix(p); err != nil {
			return fmt.Errorf("%w: WithPrefix: %w", ErrInvalidConfig, err)
		}
		c.prefix = p
		return nil
	})
}

// WithNamespace names the bus on Redis (default DefaultNamespace): buses
// with one namespace (and prefix) share topics and groups. It is the hash
// tag of all the bus's keys, so one namespace lives in one Redis Cluster
// slot; see the package doc.
func WithNamespace(ns string) RedisAndBroadcastOption {
	return remoteOption(func(c *busConfig) error {
		if err := validateGroup(ns); err != nil {
			return fmt.Errorf("%w: WithNamespace: %w", ErrInvalidConfig, err)
		}
		c.namespace = ns
		return nil
	})
}

// WithMaxLen caps each Redis group stream at about n entries (default
// DefaultMaxLen; XADD MAXLEN ~). Acknowledged entries are trimmed anyway
// (see the package doc), so this is a safety cap on the backlog a group
// may build up while its consumers are down or behind: past it, the
// oldest entries are dropped, delivered or not. It also caps the
// dead-letter stream.
func WithMaxLen(n int64) RedisOption {
	return redisOption(func(c *busConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxLen(%d): must be at least 1", ErrInvalidConfig, n)
		}
		c.maxLen = n
		return nil
	})
}

// WithVisibilityTimeout sets how long a Redis message may stay with a
// consumer that does not heartbeat before other consumers of its group
// reclaim it (default DefaultVisibility, at most MaxVisibility). A live
// consumer heartbeats every message it holds (read and not yet
// acknowledged or dead-lettered: waiting for a worker, in a handler or in
// backoff) every third of it, at most every 10s, so its messages are not
// reclaimed however long they wait or run, as long as it reaches Redis. A
// consumer cut off from Redis (or stopped) for longer loses them to the
// others: its handler may then still be running when the message is
// redelivered. Consumers that hold nothing and stay idle for four times
// the timeout are removed from their group.
func WithVisibilityTimeout(d time.Duration) RedisOption {
	return redisOption(func(c *busConfig) error {
		if d < 10*time.Millisecond || d > MaxVisibility {
			return fmt.Errorf("%w: WithVisibilityTimeout(%s): must be between 10ms and %s", ErrInvalidConfig, d, MaxVisibility)
		}
		c.visibility = d
		return nil
	})
}

// WithReadBlock sets how long one Redis read waits for new messages
// (default DefaultReadBlock), from 1ms to MaxTimeout. A read is bounded by
// the read block plus WithTimeout; Close does not wait for it.
func WithReadBlock(d time.Duration) RedisOption {
	return redisOption(func(c *busConfig) error {
		if d < time.Millisecond || d > MaxTimeout {
			return fmt.Errorf("%w: WithReadBlock(%s): must be between 1ms and %s", ErrInvalidConfig, d, MaxTimeout)
		}
		c.readBlock = d
		return nil
	})
}

// WithoutPipelining sends each of the Redis bus's script calls in a
// round trip of its own. By default, calls made concurrently on one client
// (publishes, acks, heartbeats, by this bus or any other package's Redis
// type on that client) ride pipelines together, each still bounded on its
// own; a call with nothing else in flight goes straight out, so a lone
// publisher waits for no company. Opt out where each call must be its own
// request on the wire.
func WithoutPipelining() RedisOption {
	return redisOption(func(c *busConfig) error {
		c.unpipelined = true
		return nil
	})
}

// WithBatch sets how many entries one Redis read fetches (default
// DefaultBatch), from 1 to MaxBatch.
func WithBatch(n int) RedisOption {
	return redisOption(func(c *busConfig) error {
		if n < 1 || n > MaxBatch {
			return fmt.Errorf("%w: WithBatch(%d): must be between 1 and %d (MaxBatch)", ErrInvalidConfig, n, MaxBatch)
		}
		c.batch = n
		return nil
	})
}

// WithTimeout bounds each Redis call (default DefaultTimeout, at most
// MaxTimeout): a Publish, Subscribe, DeclareGroup or DeleteGroup returns
// within it (or by its ctx's deadline, if sooner) with an error wrapping
// context.DeadlineExceeded, whether or not the client was built with
// ContextTimeoutEnabled. A call given up on may still have been carried
// out by Redis: a Publish that timed out may have stored the message. A
// read waits for the read block plus this timeout.
func WithTimeout(d time.Duration) RedisAndBroadcastOption {
	return remoteOption(func(c *busConfig) error {
		if d <= 0 || d > MaxTimeout {
			return fmt.Errorf("%w: WithTimeout(%s): must be positive and at most %s", ErrInvalidConfig, d, MaxTimeout)
		}
		c.timeout = d
		return nil
	})
}
