package cache

import (
	"fmt"
	"log/slog"
	"time"
)

// Each constructor takes options of its own type, so an option that does
// not fit a constructor is a compile error rather than a run-time one.
// An option that fits several constructors implements several of these
// interfaces (see the combined interfaces below). The interfaces are
// sealed: only this package's With… functions implement them.
type (
	// LRUOption configures NewLRU.
	LRUOption interface{ applyLRU(*lruConfig) error }
	// RedisOption configures NewRedis.
	RedisOption interface{ applyRedis(*redisConfig) error }
	// AsideOption configures NewAside.
	AsideOption interface{ applyAside(*asideConfig) error }
	// TieredOption configures NewTiered.
	TieredOption interface{ applyTiered(*tieredConfig) error }
	// FleetLockOption configures Aside's fleet lock: WithFleetLock's
	// options.
	FleetLockOption interface{ applyFleetLock(*fleetConfig) error }

	// LRUAndAsideOption fits NewLRU and NewAside: WithClock.
	LRUAndAsideOption interface {
		LRUOption
		AsideOption
	}
	// RedisAndFleetLockOption fits NewRedis and WithFleetLock: WithPrefix,
	// WithTimeout, WithoutTimeout.
	RedisAndFleetLockOption interface {
		RedisOption
		FleetLockOption
	}
	// AsideAndTieredOption fits NewAside and NewTiered: WithObserver,
	// WithLogger, WithOnError.
	AsideAndTieredOption interface {
		AsideOption
		TieredOption
	}
)

// Option is the option type of NewLRU under its old name.
//
// Deprecated: every constructor has an option type of its own: use
// LRUOption, RedisOption, AsideOption or TieredOption.
type Option = LRUOption

// apply runs opts against cfg with the constructor's apply method,
// refusing nil options.
func apply[O any, C any](cfg *C, opts []O, fn func(O, *C) error) error {
	for _, opt := range opts {
		if any(opt) == nil {
			return fmt.Errorf("%w: nil option", ErrInvalidConfig)
		}
		if err := fn(opt, cfg); err != nil {
			return err
		}
	}
	return nil
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: %s(%s): must be positive", ErrInvalidConfig, name, d)
	}
	return nil
}

type clockOption struct{ now func() time.Time }

func (o clockOption) check() error {
	if o.now == nil {
		return fmt.Errorf("%w: WithClock(nil)", ErrInvalidConfig)
	}
	return nil
}

func (o clockOption) applyLRU(c *lruConfig) error {
	c.now = o.now
	return o.check()
}

func (o clockOption) applyAside(c *asideConfig) error {
	c.now = o.now
	return o.check()
}

// WithClock sets the clock of an LRU's TTLs, and the one Aside measures
// load times with (default time.Now). Tests use it to step time exactly.
// Redis takes time from the server (its TTLs), so NewRedis takes no clock.
func WithClock(now func() time.Time) LRUAndAsideOption { return clockOption{now} }

type observerOption func(Event)

func (o observerOption) check() error {
	if o == nil {
		return fmt.Errorf("%w: WithObserver(nil)", ErrInvalidConfig)
	}
	return nil
}

func (o observerOption) applyAside(c *asideConfig) error {
	c.hooks.observer = o
	return o.check()
}

func (o observerOption) applyTiered(c *tieredConfig) error {
	c.hooks.observer = o
	return o.check()
}

// WithObserver sets a function that Aside or Tiered calls with every Event:
// load errors, cache and fleet lock errors worked around, fleet lock
// waits, early refreshes, negative hits, and a Tiered's subscription lost
// and back. It is called synchronously where the event happens (never
// under one of the package's locks) from many goroutines at once: it must
// be quick and safe for concurrent use, and must not call Close of the
// Aside or Tiered that calls it (Close waits for the goroutine it runs
// on). Stats counts the same events.
func WithObserver(fn func(Event)) AsideAndTieredOption { return observerOption(fn) }

type loggerOption struct{ l *slog.Logger }

func (o loggerOption) applyAside(c *asideConfig) error {
	c.hooks.logger = o.l
	return nil
}

func (o loggerOption) applyTiered(c *tieredConfig) error {
	c.hooks.logger = o.l
	return nil
}

// WithLogger makes Aside or Tiered log the events an operator must see:
// Error for a failing loader (the source of truth), Warn for cache, lock
// and subscription failures worked around, Info when a subscription is
// back, Debug for routine events (fleet lock waits, early refreshes,
// negative hits). Records carry the event's kind, duration and error as
// attributes, never a value. A nil logger (the default) logs nothing.
func WithLogger(l *slog.Logger) AsideAndTieredOption { return loggerOption{l} }

type onErrorOption func(key string, err error)

func (o onErrorOption) check() error {
	if o == nil {
		return fmt.Errorf("%w: WithOnError(nil)", ErrInvalidConfig)
	}
	return nil
}

func (o onErrorOption) applyAside(c *asideConfig) error {
	c.hooks.onError = o
	return o.check()
}

func (o onErrorOption) applyTiered(c *tieredConfig) error {
	c.hooks.onError = o
	return o.check()
}

// WithOnError sets a hook for the failures that Aside and Tiered work
// around rather than return: a cache read or write that failed (the loader
// served the read instead), a fleet lock that could not be taken, an
// invalidation channel that dropped. key is "" when no key is involved.
// It is called alongside WithObserver (for EventCacheError,
// EventLockError and EventSubscriptionLost), synchronously, and must be
// quick and safe for concurrent use. Failures are counted in
// Stats.CacheErrors either way. WithObserver reports these and more.
func WithOnError(fn func(key string, err error)) AsideAndTieredOption { return onErrorOption(fn) }
