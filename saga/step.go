package saga

import (
	"context"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
)

// Step is one local transaction of a saga and, optionally, the
// compensating transaction that undoes it.
//
// Action and Compensate share data: what an Action records in *data (a
// reservation id, a charge id) is seen by later steps and by
// compensations, and is written to the log after every transition.
//
// Both run at least once per saga execution and may run more than once:
// a retry after a timeout, or a new process re-running a step whose
// outcome the crashed one never logged. Make them idempotent with
// StepKey(ctx) as the idempotency key of their side effect (see the
// package doc). A Compensate must also be a no-op, returning nil, when its
// Action never took effect: after a crash it may be asked to undo a step
// whose outcome is unknown, seeing *data as it was before that step began.
type Step[T any] struct {
	// Name identifies the step in the log, in StepKey and in results:
	// unique within the saga, not empty, without '/'.
	Name string
	// Action does the step's work. An error (after the step's Policy ran
	// out of tries) fails the saga at this step, and the steps before it
	// are compensated. An Action that fails must leave no effect behind.
	Action func(ctx context.Context, data *T) error
	// Compensate undoes a done Action; nil when there is nothing to undo
	// (the step is skipped on the way back). It runs on a context that the
	// Execute caller's cancellation does not reach.
	Compensate func(ctx context.Context, data *T) error
}

// Policy says how an Action or a Compensate is tried. A zero field means
// the saga's default (see WithActionPolicy, WithCompensationPolicy), and
// where that is zero too the built-in default.
type Policy struct {
	// MaxAttempts is the number of tries before giving up: the step fails
	// (Action) or the saga ends Failed (Compensate). Default:
	// DefaultActionAttempts for actions (no retry),
	// DefaultCompensationAttempts for compensations.
	MaxAttempts int
	// Timeout bounds each try; its context is cancelled when it expires.
	// Default: none.
	Timeout time.Duration
	// Backoff is the cap on the wait before the second try; each further
	// try doubles it, up to MaxBackoff, and the actual wait is drawn
	// uniformly from [0, cap] ("full jitter"), so that retrying processes
	// spread out. Default DefaultBackoff.
	Backoff time.Duration
	// MaxBackoff caps the exponential growth. Default DefaultMaxBackoff.
	MaxBackoff time.Duration
}

// Built-in policy defaults: an action is tried once, a compensation up to
// ten times, waiting from 50ms doubling up to 5s between tries.
const (
	DefaultActionAttempts       = 1
	DefaultCompensationAttempts = 10
	DefaultBackoff              = 50 * time.Millisecond
	DefaultMaxBackoff           = 5 * time.Second
)

func (p Policy) validate(what string) error {
	switch {
	case p.MaxAttempts < 0:
		return fmt.Errorf("%w: %s: MaxAttempts must not be negative, got %d", ErrInvalidConfig, what, p.MaxAttempts)
	case p.Timeout < 0:
		return fmt.Errorf("%w: %s: Timeout must not be negative, got %s", ErrInvalidConfig, what, p.Timeout)
	case p.Backoff < 0:
		return fmt.Errorf("%w: %s: Backoff must not be negative, got %s", ErrInvalidConfig, what, p.Backoff)
	case p.MaxBackoff < 0:
		return fmt.Errorf("%w: %s: MaxBackoff must not be negative, got %s", ErrInvalidConfig, what, p.MaxBackoff)
	case p.Backoff > 0 && p.MaxBackoff > 0 && p.MaxBackoff < p.Backoff:
		return fmt.Errorf("%w: %s: MaxBackoff %s is below Backoff %s", ErrInvalidConfig, what, p.MaxBackoff, p.Backoff)
	}
	return nil
}

// or fills p's zero fields from d.
func (p Policy) or(d Policy) Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.Timeout == 0 {
		p.Timeout = d.Timeout
	}
	if p.Backoff == 0 {
		p.Backoff = d.Backoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	return p
}

// wait is the full-jitter backoff after the failed try number attempt
// (from 1): uniform in [0, min(MaxBackoff, Backoff·2^(attempt-1))]. The
// cap is the module's one backoff (internal/backoff); the draw goes
// through rnd so that tests can pin it, with backoff.Full's result when
// rnd is nil.
func (p Policy) wait(attempt int, rnd func(n int64) int64) time.Duration {
	if rnd == nil {
		return backoff.Policy{Min: p.Backoff, Max: p.MaxBackoff, Jitter: backoff.Full}.Wait(attempt)
	}
	c := backoff.Capped(p.Backoff, p.MaxBackoff, attempt)
	if c <= 0 {
		return 0
	}
	return time.Duration(rnd(int64(c) + 1))
}
