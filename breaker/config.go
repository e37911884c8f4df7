package breaker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Defaults of the optional Config fields.
const (
	// DefaultFailureThreshold is how many consecutive failures open the
	// circuit when Config.FailureThreshold is 0.
	DefaultFailureThreshold = 5
	// DefaultOpenTimeout is how long the circuit stays open before probing
	// when Config.OpenTimeout is 0.
	DefaultOpenTimeout = 30 * time.Second
	// DefaultHalfOpenMaxCalls is how many probes the half-open state lets
	// through when Config.HalfOpenMaxCalls is 0.
	DefaultHalfOpenMaxCalls = 1
	// DefaultWindowSize is the count-based window used when a rate
	// threshold is set and neither WindowSize nor WindowDuration is.
	DefaultWindowSize = 100
	// DefaultMinimumCalls is the least number of calls a window must hold
	// before its rates are judged (capped at WindowSize).
	DefaultMinimumCalls = 20
)

// Limits on the Config fields, so the state fits its compact encoding.
const (
	maxHalfOpenCalls = 1 << 20
	maxWindowSize    = 1 << 24
	timeBuckets      = 10 // a time-based window is kept in this many buckets
)

// Config configures a Breaker. Every field is optional except Name with a
// shared Store; a zero value means the documented default, a negative one
// is an error.
type Config struct {
	// Name identifies the circuit: in errors, in OnStateChange, and as the
	// key that breakers sharing a Store meet under. Required with a Store.
	Name string

	// FailureThreshold is how many consecutive failures open the circuit
	// (default DefaultFailureThreshold). A success resets the count. It
	// applies alongside the rate thresholds; to let the rates alone decide,
	// set it above WindowSize.
	FailureThreshold int
	// OpenTimeout is how long the circuit stays open before letting probes
	// through (default DefaultOpenTimeout).
	OpenTimeout time.Duration
	// HalfOpenMaxCalls is how many probes run in the half-open state
	// (default DefaultHalfOpenMaxCalls): they may run concurrently, other
	// calls meanwhile get ErrTooManyCalls. All of them succeeding closes the circuit.
	HalfOpenMaxCalls int

	// IsFailure tells which errors of fn count as failures. The default
	// counts every non-nil error except context.Canceled. An error that is
	// not a failure counts as a success (the dependency answered), except
	// context.Canceled, which counts as neither: the caller gave up, which
	// says nothing about the dependency.
	IsFailure func(error) bool
	// OnStateChange, if set, is called on every change of this breaker's
	// state, in order, after the change and outside the breaker's lock (it
	// may call the breaker), just before Observer is told of the same
	// change: Observer reports more, OnStateChange stays for code that
	// wants the changes alone. It runs on the goroutine that caused the
	// change, usually a caller of Execute (or of State or Metrics, which
	// see an open period end: see Breaker.State); keep it quick. With a shared
	// store it also reports the changes this breaker adopts from the fleet,
	// those pushed by Redis on the store's listener goroutine.
	OnStateChange func(name string, from, to State)
	// Observer, if set, is told of state changes (alongside OnStateChange,
	// in the same order), rejections, and a shared store's detaching and
	// re-joining. It is called synchronously on the goroutine where the
	// event happens (a caller of Execute or State, or the store's listener
	// for pushed changes), never under the breaker's lock, so it may call
	// the breaker; keep it quick, it delays that call.
	Observer func(Event)
	// Logger, if set, gets a record of the events an operator must see:
	// Warn when the circuit opens or the shared store is unreachable, Info
	// when it goes half-open or closed or the store answers again, Debug
	// for each refused call. nil (the default) logs nothing.
	Logger *slog.Logger
	// Store shares the circuit with other breakers of the same Name: nil
	// keeps it in this breaker alone, NewRedisStore shares it across a fleet.
	Store Store

	// FailureRateThreshold opens the circuit when the share of failures
	// among the calls in the sliding window reaches it (rate ≥ threshold).
	// 0 disables it; otherwise it must be in (0, 1].
	FailureRateThreshold float64
	// SlowCallRateThreshold opens the circuit when the share of calls slower
	// than SlowCallDuration in the window reaches it. 0 disables it;
	// otherwise it must be in (0, 1], and SlowCallDuration must be set. A
	// slow probe counts as a failed probe while it is set.
	SlowCallRateThreshold float64
	// SlowCallDuration: calls that take longer count as slow (failed or
	// not). Setting it turns on timing every call (two clock reads).
	SlowCallDuration time.Duration
	// WindowSize makes the sliding window count-based: the last WindowSize
	// calls. DefaultWindowSize when a rate threshold is set and
	// WindowDuration is not. Setting a window without a rate threshold keeps the rates for
	// Metrics only.
	WindowSize int
	// WindowDuration makes the sliding window time-based: the calls that
	// ended in the last WindowDuration, kept in 10 buckets, so a call stops
	// counting between 0.9 and 1 WindowDuration after it ended. Exclusive
	// with WindowSize.
	WindowDuration time.Duration
	// MinimumCalls is how many calls the window must hold before its rates
	// are judged (default DefaultMinimumCalls, at most WindowSize).
	MinimumCalls int

	// Clock is the breaker's time source (default time.Now). Durations are
	// taken from its monotonic reading when it has one.
	Clock func() time.Time
}

// settings is a validated Config with its defaults filled in.
type settings struct {
	Config
	windowed bool
}

func defaultIsFailure(err error) bool { return !errors.Is(err, context.Canceled) }

func (c Config) settings() (settings, error) {
	bad := func(format string, args ...any) (settings, error) {
		return settings{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.FailureThreshold < 0:
		return bad("FailureThreshold must not be negative, got %d", c.FailureThreshold)
	case c.FailureThreshold > maxConsec:
		return bad("FailureThreshold must be at most %d, got %d", maxConsec, c.FailureThreshold)
	case c.OpenTimeout < 0:
		return bad("OpenTimeout must not be negative, got %s", c.OpenTimeout)
	case c.HalfOpenMaxCalls < 0:
		return bad("HalfOpenMaxCalls must not be negative, got %d", c.HalfOpenMaxCalls)
	case c.HalfOpenMaxCalls > maxHalfOpenCalls:
		return bad("HalfOpenMaxCalls must be at most %d, got %d", maxHalfOpenCalls, c.HalfOpenMaxCalls)
	case c.SlowCallDuration < 0:
		return bad("SlowCallDuration must not be negative, got %s", c.SlowCallDuration)
	case c.WindowSize < 0:
		return bad("WindowSize must not be negative, got %d", c.WindowSize)
	case c.WindowSize > maxWindowSize:
		return bad("WindowSize must be at most %d, got %d", maxWindowSize, c.WindowSize)
	case c.WindowDuration < 0:
		return bad("WindowDuration must not be negative, got %s", c.WindowDuration)
	case c.WindowSize > 0 && c.WindowDuration > 0:
		return bad("set WindowSize (count-based window) or WindowDuration (time-based window), not both")
	case c.WindowDuration > 0 && c.WindowDuration < timeBuckets:
		return bad("WindowDuration must be at least %dns, got %s", timeBuckets, c.WindowDuration)
	case c.MinimumCalls < 0:
		return bad("MinimumCalls must not be negative, got %d", c.MinimumCalls)
	case c.Store != nil && c.Name == "":
		return bad("Name is required with a Store: breakers share a circuit by Name")
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"FailureRateThreshold", c.FailureRateThreshold}, {"SlowCallRateThreshold", c.SlowCallRateThreshold}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > 1 {
			return bad("%s must be in (0, 1] (0 disables it), got %v", r.name, r.v)
		}
	}
	if c.SlowCallRateThreshold > 0 && c.SlowCallDuration == 0 {
		return bad("SlowCallRateThreshold needs SlowCallDuration: how long is a slow call?")
	}

	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = DefaultOpenTimeout
	}
	if c.HalfOpenMaxCalls == 0 {
		c.HalfOpenMaxCalls = DefaultHalfOpenMaxCalls
	}
	if c.IsFailure == nil {
		c.IsFailure = defaultIsFailure
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	rated := c.FailureRateThreshold > 0 || c.SlowCallRateThreshold > 0
	if rated && c.WindowSize == 0 && c.WindowDuration == 0 {
		c.WindowSize = DefaultWindowSize
	}
	s := settings{windowed: c.WindowSize > 0 || c.WindowDuration > 0}
	if s.windowed {
		if c.MinimumCalls == 0 {
			c.MinimumCalls = DefaultMinimumCalls
			if c.WindowSize > 0 {
				c.MinimumCalls = min(c.MinimumCalls, c.WindowSize)
			}
		}
		if c.WindowSize > 0 && c.MinimumCalls > c.WindowSize {
			return bad("MinimumCalls (%d) must not exceed WindowSize (%d): the rates would never be judged", c.MinimumCalls, c.WindowSize)
		}
	} else if c.MinimumCalls > 0 {
		return bad("MinimumCalls applies to a sliding window; set a rate threshold or a window")
	}
	s.Config = c
	return s, nil
}
