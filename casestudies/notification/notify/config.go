package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/ratelimit"
)

// ErrInvalidConfig is wrapped by New's errors for a Config that cannot work.
var ErrInvalidConfig = errors.New("notify: invalid config")

// Defaults of Config's optional fields.
const (
	DefaultWorkers          = 8
	DefaultMaxAttempts      = 5
	DefaultRetryBase        = 2 * time.Second // the first retry waits 2 s, then 4, 8, … (2^attempt s)
	DefaultRetryMax         = 10 * time.Minute
	DefaultBreakerThreshold = 5
	DefaultBreakerTimeout   = 30 * time.Second
	DefaultProbeWait        = time.Second
	DefaultPreferenceTTL    = 5 * time.Minute
	DefaultIdempotencyTTL   = 24 * time.Hour
	DefaultPrefix           = "notify:"
	DefaultMaxBody          = 64 << 10 // bytes of the body field
	DefaultHistoryLimit     = 100      // status entries kept per channel
	DefaultUnavailableWait  = time.Second
)

// DefaultUserRate is the per-user, per-channel rate limit: 30 a minute,
// in bursts of up to 30.
var DefaultUserRate = ratelimit.PerMinute(30)

// Config configures New. Every field but Senders is optional: a zero value
// means the documented default, a negative one is an error.
type Config struct {
	// Senders maps each channel name ("email", "sms", "push", …) to the
	// sender that delivers it. Required. A channel not in it is an unknown
	// channel to the API. Names are 1–32 of [a-z0-9_-].
	Senders map[string]senders.Sender
	// Redis, if set, keeps everything shared and durable in Redis (queue,
	// history, preferences, idempotency keys, breakers, rate limits), so
	// several instances share the work and a restart loses nothing
	// accepted. nil keeps everything in this process.
	Redis redis.UniversalClient
	// Prefix prefixes every Redis key (default DefaultPrefix).
	Prefix string
	// RedisTimeout bounds each Redis call of the service and of the
	// packages it uses (default DefaultRedisTimeout).
	RedisTimeout time.Duration

	// Workers is how many deliveries are checked and sent at once
	// (default DefaultWorkers). On Redis the recording of a finished
	// delivery's outcome and its ack trail behind by a delivery or two
	// per worker, and while sends are quick (under 2 ms) a worker takes
	// its next job as it begins the one in hand, so up to 4·Workers jobs
	// may be leased: a worker waits for no round trip it can overlap with
	// another, and acks a delivery once its history is written.
	Workers int
	// MaxAttempts is how many times a delivery is tried before it fails
	// (default DefaultMaxAttempts).
	MaxAttempts int
	// RetryBase and RetryMax shape the wait before retry n:
	// RetryBase·2^(n-1) capped at RetryMax (defaults DefaultRetryBase,
	// DefaultRetryMax), of which a random half is taken off (equal jitter)
	// unless ExactRetryDelays.
	RetryBase, RetryMax time.Duration
	// ExactRetryDelays turns the jitter off: for tests and demos.
	ExactRetryDelays bool
	// BreakerThreshold consecutive transient failures of a channel's
	// provider open its circuit (default DefaultBreakerThreshold) for
	// BreakerTimeout (default DefaultBreakerTimeout); meanwhile its
	// deliveries are deferred, not attempted.
	BreakerThreshold int
	BreakerTimeout   time.Duration
	// ProbeWait is how long a delivery is deferred while another one
	// probes a half-open provider (default DefaultProbeWait).
	ProbeWait time.Duration
	// UserRate limits deliveries per user and channel (default
	// DefaultUserRate); a delivery over it is deferred until allowed.
	UserRate ratelimit.Limit
	// NoUserRate turns the per-user rate limit off.
	NoUserRate bool
	// PreferenceTTL is how long a user's preferences are cached (default
	// DefaultPreferenceTTL); an update through the API invalidates them at
	// once.
	PreferenceTTL time.Duration
	// IdempotencyTTL is how long an idempotency key is remembered
	// (default DefaultIdempotencyTTL).
	IdempotencyTTL time.Duration
	// HistoryLimit bounds the status entries kept per channel delivery
	// (default DefaultHistoryLimit): the first one and the latest ones.
	HistoryLimit int
	// Aging is the queue's aging period (default queue.DefaultAging).
	Aging time.Duration
	// PollInterval is the queue's poll interval (default
	// queue.DefaultPollInterval); tests with a fake clock shorten it.
	PollInterval time.Duration
	// VisibilityTimeout is how long a delivery stays leased to an instance
	// that stopped renewing it (it crashed) before another takes it over
	// (Redis only; default queue.DefaultVisibilityTimeout).
	VisibilityTimeout time.Duration

	// Clock is the service's time (default time.Now): due times, quiet
	// hours, retry delays, breakers and rate limits all read it.
	Clock func() time.Time
	// Observer, if set, is told of every status change (Event), on the
	// goroutine that made it; keep it quick.
	Observer func(Event)
	// Logger gets a record of failures an operator must see; nil logs
	// nothing.
	Logger *slog.Logger

	clockSet bool // Clock was given: the Redis queue uses it too (tests)
}

var channelName = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// withDefaults validates cfg and fills in its defaults.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Senders) == 0 {
		return cfg, fmt.Errorf("%w: no senders", ErrInvalidConfig)
	}
	for name, s := range cfg.Senders {
		if !channelName.MatchString(name) {
			return cfg, fmt.Errorf("%w: channel name %q (want 1-32 of [a-z0-9_-])", ErrInvalidConfig, name)
		}
		if s == nil {
			return cfg, fmt.Errorf("%w: channel %q has a nil sender", ErrInvalidConfig, name)
		}
	}
	durations := map[string]*time.Duration{
		"RetryBase": &cfg.RetryBase, "RetryMax": &cfg.RetryMax, "BreakerTimeout": &cfg.BreakerTimeout,
		"ProbeWait": &cfg.ProbeWait, "PreferenceTTL": &cfg.PreferenceTTL, "IdempotencyTTL": &cfg.IdempotencyTTL,
		"Aging": &cfg.Aging, "PollInterval": &cfg.PollInterval,
		"VisibilityTimeout": &cfg.VisibilityTimeout, "RedisTimeout": &cfg.RedisTimeout,
	}
	for name, d := range durations {
		if *d < 0 {
			return cfg, fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, name, *d)
		}
	}
	ints := map[string]*int{"Workers": &cfg.Workers, "MaxAttempts": &cfg.MaxAttempts,
		"BreakerThreshold": &cfg.BreakerThreshold, "HistoryLimit": &cfg.HistoryLimit}
	for name, n := range ints {
		if *n < 0 {
			return cfg, fmt.Errorf("%w: %s %d is negative", ErrInvalidConfig, name, *n)
		}
	}
	setDefault(&cfg.Workers, DefaultWorkers)
	setDefault(&cfg.MaxAttempts, DefaultMaxAttempts)
	setDefault(&cfg.BreakerThreshold, DefaultBreakerThreshold)
	setDefault(&cfg.HistoryLimit, DefaultHistoryLimit)
	setDefault(&cfg.RetryBase, DefaultRetryBase)
	setDefault(&cfg.RetryMax, DefaultRetryMax)
	setDefault(&cfg.BreakerTimeout, DefaultBreakerTimeout)
	setDefault(&cfg.ProbeWait, DefaultProbeWait)
	setDefault(&cfg.PreferenceTTL, DefaultPreferenceTTL)
	setDefault(&cfg.IdempotencyTTL, DefaultIdempotencyTTL)
	setDefault(&cfg.RedisTimeout, DefaultRedisTimeout)
	if cfg.RetryMax < cfg.RetryBase {
		return cfg, fmt.Errorf("%w: RetryMax %v is below RetryBase %v", ErrInvalidConfig, cfg.RetryMax, cfg.RetryBase)
	}
	if cfg.UserRate == (ratelimit.Limit{}) {
		cfg.UserRate = DefaultUserRate
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	cfg.clockSet = cfg.Clock != nil
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return cfg, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}
