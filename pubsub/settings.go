package pubsub

import "time"

// SubscribeSettings is what a Subscribe's options ask for, resolved
// against the defaults: for a Bus implemented outside this package (whose
// SubscribeOptions are sealed), so that it can honour WithGroup,
// WithWorkers, WithMaxAttempts, WithBackoff and the rest.
type SubscribeSettings struct {
	Group       string // WithGroup; "" for a plain subscription
	Consumer    string // WithConsumer; "" when not given
	Workers     int    // WithWorkers (DefaultWorkers)
	MaxAttempts int    // WithMaxAttempts (DefaultMaxAttempts)
	// BackoffMin and BackoffMax are WithBackoff's (DefaultBackoffMin,
	// DefaultBackoffMax).
	BackoffMin, BackoffMax time.Duration
	QueueSize              int      // WithQueueSize (DefaultQueueSize)
	Overflow               Overflow // WithOverflow (OverflowBlock)
}

// ResolveSubscribeOptions returns the settings opts ask for, or an error
// wrapping ErrInvalidConfig for a nil or invalid option.
func ResolveSubscribeOptions(opts ...SubscribeOption) (SubscribeSettings, error) {
	cfg := defaultBusConfig()
	sc, err := cfg.subConfig(opts)
	if err != nil {
		return SubscribeSettings{}, err
	}
	d := sc.delivery
	return SubscribeSettings{Group: sc.group, Consumer: sc.consumer, Workers: d.workers, MaxAttempts: d.maxAttempts,
		BackoffMin: d.backoffMin, BackoffMax: d.backoffMax, QueueSize: d.queueSize, Overflow: d.overflow}, nil
}
