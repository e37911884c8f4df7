package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"
)

// FailClosedRetryAfter is the RetryAfter (and ResetAfter) of the denials
// FailClosed makes up while its limiter fails: long enough that clients
// retrying on Retry-After do not hammer a service that has lost its limiter,
// short enough that they are served again soon after it recovers.
const FailClosedRetryAfter = time.Second

// WrapOption configures Fallback, FailOpen and FailClosed: WithCooldown,
// WithOnDegrade, and the LimiterOptions WithObserver and WithLogger. Sealed
// like MemoryOption.
type WrapOption interface{ applyWrap(*wrapConfig) error }

type wrapOption func(*wrapConfig) error

func (f wrapOption) applyWrap(c *wrapConfig) error { return f(c) }

type wrapConfig struct {
	hooks
	onDegrade func(ctx context.Context, err error)
	cooldown  time.Duration
}

// DefaultCooldown is how long the wrappers stop asking a limiter that
// failed, unless WithCooldown says otherwise.
const DefaultCooldown = time.Second

// WithCooldown sets how long, after the wrapped limiter fails, the wrapper
// answers in its place without asking it (default DefaultCooldown). A
// Redis limiter whose server is down takes up to its WithTimeout to fail,
// so without a cooldown every request during an outage would pay that
// wait. When the cooldown ends, one call asks the limiter again (the others
// keep being answered in its place until that call returns); if it
// succeeds, every call asks the limiter again. WithCooldown(0) asks the
// limiter on every call.
func WithCooldown(d time.Duration) WrapOption {
	return wrapOption(func(c *wrapConfig) error {
		if d < 0 {
			return fmt.Errorf("%w: WithCooldown(%s): must not be negative", ErrInvalidConfig, d)
		}
		c.cooldown = d
		return nil
	})
}

// Cooldown is WithCooldown.
//
// Deprecated: use WithCooldown.
func Cooldown(d time.Duration) WrapOption { return WithCooldown(d) }

// WithOnDegrade sets a hook called with the limiter's error each time a
// wrapper answers in its place (Fallback asks the secondary, FailOpen
// allows, FailClosed denies), alongside the observer's EventFallback
// (WithObserver, which also sees when degradation starts and ends). The
// wrappers return a nil error then, and the Decision says nothing of the
// failure, so these hooks are how a service observes degradation: count
// it, log it, alert on it. It runs on the caller's goroutine, concurrently
// from many of them, before the wrapper answers: keep it fast. It is not
// called for errors passed through (caller and configuration errors,
// ErrTooManyKeys) or when the caller's ctx is done, since nothing degraded
// then.
func WithOnDegrade(f func(ctx context.Context, err error)) WrapOption {
	return wrapOption(func(c *wrapConfig) error {
		if f == nil {
			return fmt.Errorf("%w: WithOnDegrade(nil)", ErrInvalidConfig)
		}
		c.onDegrade = f
		return nil
	})
}

// OnDegrade is WithOnDegrade.
//
// Deprecated: use WithOnDegrade, or WithObserver's EventFallback.
func OnDegrade(f func(ctx context.Context, err error)) WrapOption { return WithOnDegrade(f) }

// Fallback returns a Limiter that asks primary and, when primary fails,
// asks secondary instead: typically a Redis limiter backed by a Memory
// limiter holding this instance's share of the limit (the fleet-wide Rate
// divided by the number of instances), so that limiting goes on, locally
// and approximately, while Redis is down. Each call tries primary first, so
// decisions come from primary again as soon as it recovers.
//
// What counts as failing: any error from primary except caller errors
// (those wrapping ErrInvalidRequest or ErrExceedsLimit), configuration
// errors (ErrInvalidConfig, e.g. from a misconfigured inner wrapper), which
// secondary would not fix, and ErrTooManyKeys, a full key table's denial of
// one new key, which is a decision and not an outage: these are returned
// unchanged with primary's Decision, start no cooldown and reach no hook.
// Nor does a done ctx count (then the error is returned, wrapping ctx.Err()).
// If secondary fails too, the error wraps both errors; give secondary a
// limit that admits every n primary admits, or an oversized n will surface
// as ErrExceedsLimit from secondary. WithObserver and WithOnDegrade observe
// each fallback.
//
// Latency: a Redis limiter whose server is down takes up to its
// WithTimeout (default DefaultTimeout) to fail, even when Redis refuses
// connections at once, because the client retries until then. So after
// primary fails, Fallback asks secondary directly for a cooldown
// (WithCooldown, default DefaultCooldown), and then
// lets one call probe primary: during an outage one call per cooldown pays
// the timeout, not every call.
//
// A nil limiter or option is a configuration error: since Fallback returns
// no error, every call then returns an error wrapping ErrInvalidConfig.
//
// The Limiter returned implements StatsReporter and Peeker.
func Fallback(primary, secondary Limiter, opts ...WrapOption) Limiter {
	w := newWrapper("fallback", primary, opts, func(ctx context.Context, key string, n int, _ Decision, err error) (Decision, error) {
		d, err2 := secondary.AllowN(ctx, key, n)
		if err2 != nil {
			return d, fmt.Errorf("ratelimit: fallback limiter failed: %w (primary: %w)", err2, err)
		}
		return d, nil
	})
	if w.cfgErr == nil && isNil(secondary) {
		w.cfgErr = fmt.Errorf("%w: Fallback: nil secondary Limiter", ErrInvalidConfig)
	}
	w.peekAlt = func(ctx context.Context, key string, _ Decision, err error) (Decision, error) {
		p, ok := secondary.(Peeker)
		if !ok {
			return Decision{}, fmt.Errorf("%w: Peek: the secondary %T cannot peek (primary: %w)", ErrInvalidRequest, secondary, err)
		}
		d, err2 := p.Peek(ctx, key)
		if err2 != nil {
			return d, fmt.Errorf("ratelimit: fallback limiter failed: %w (primary: %w)", err2, err)
		}
		return d, nil
	}
	return w
}

// FailOpen returns a Limiter that allows requests while l fails: it answers
// an allowed Decision with l's Limit, Remaining 0 and no delay, and a nil
// error. Use it where serving a burst unlimited is better than refusing
// everyone during an outage. Caller errors, a done ctx, nil arguments,
// hooks, Stats and Peek behave as for Fallback.
func FailOpen(l Limiter, opts ...WrapOption) Limiter {
	return newWrapper("fail-open", l, opts, func(_ context.Context, _ string, _ int, d Decision, _ error) (Decision, error) {
		return Decision{Allowed: true, Limit: d.Limit}, nil
	})
}

// FailClosed returns a Limiter that denies requests while l fails: it
// answers a denied Decision with l's Limit, Remaining 0, RetryAfter and
// ResetAfter FailClosedRetryAfter, and a nil error. Use it where
// admitting unlimited traffic is worse than refusing it, such as login
// attempts or expensive endpoints. Caller errors, a done ctx, nil
// arguments, hooks, Stats and Peek behave as for Fallback.
func FailClosed(l Limiter, opts ...WrapOption) Limiter {
	return newWrapper("fail-closed", l, opts, func(_ context.Context, _ string, _ int, d Decision, _ error) (Decision, error) {
		return Decision{Limit: d.Limit, RetryAfter: FailClosedRetryAfter, ResetAfter: FailClosedRetryAfter}, nil
	})
}

// degradeFunc answers in place of a failed limiter, given the Decision and
// error the limiter returned.
type degradeFunc func(ctx context.Context, key string, n int, d Decision, err error) (Decision, error)

// wrapper is the shared body of the three wrappers: they differ only in
// what they answer when the wrapped limiter fails.
type wrapper struct {
	name    string // for Events: "fallback", "fail-open", "fail-closed"
	inner   Limiter
	degrade degradeFunc
	peekAlt func(ctx context.Context, key string, d Decision, err error) (Decision, error) // Fallback's Peek in primary's place
	cfg     wrapConfig
	cfgErr  error // reported by every call: the constructors return no error

	// Cooldown state (WithCooldown): until skipUntil (see elapsed; 0 when healthy) calls
	// are answered without asking inner, citing its last failure.
	skipUntil   atomic.Int64
	lastFailure atomic.Pointer[failure]
	base        time.Time
	now         func() time.Time // tests replace it

	degraded atomic.Bool // between EventDegraded and EventRecovered
	stats    counters
}

// failure is what inner last answered when it failed.
type failure struct {
	d   Decision // for its Limit
	err error
}

func newWrapper(name string, l Limiter, opts []WrapOption, degrade degradeFunc) *wrapper {
	w := &wrapper{name: name, inner: l, degrade: degrade, cfg: wrapConfig{cooldown: DefaultCooldown}, base: time.Now(), now: time.Now}
	if isNil(l) {
		w.cfgErr = fmt.Errorf("%w: nil Limiter", ErrInvalidConfig)
		return w
	}
	for _, opt := range opts {
		if opt == nil {
			w.cfgErr = fmt.Errorf("%w: nil WrapOption", ErrInvalidConfig)
			return w
		}
		if err := opt.applyWrap(&w.cfg); err != nil {
			w.cfgErr = err
			return w
		}
	}
	return w
}

// Allow is AllowN(ctx, key, 1).
func (w *wrapper) Allow(ctx context.Context, key string) (Decision, error) {
	return w.AllowN(ctx, key, 1)
}

// AllowN asks the wrapped limiter and answers in its place when it fails.
func (w *wrapper) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	d, err := w.allowN(ctx, key, n)
	w.stats.count(d, err)
	return d, err
}

// Stats returns the wrapper's counts so far: its answers, whoever made
// them, and in Fallbacks those made in its limiter's place.
func (w *wrapper) Stats() Stats { return w.stats.stats() }

func (w *wrapper) allowN(ctx context.Context, key string, n int) (Decision, error) {
	if w.cfgErr != nil {
		return Decision{}, w.cfgErr
	}
	if until := w.skipUntil.Load(); until != 0 {
		now := w.elapsed()
		// Cooling down, or another call is probing: answer in inner's place.
		if now < until || !w.skipUntil.CompareAndSwap(until, now+int64(w.cfg.cooldown)) {
			f := w.lastFailure.Load()
			return w.answerFor(ctx, key, n, Decision{Limit: f.d.Limit}, f.err)
		}
		// This call probes inner.
	}
	d, err := w.inner.AllowN(ctx, key, n)
	if err == nil || mustPassThrough(err) {
		if w.skipUntil.Load() != 0 {
			w.skipUntil.Store(0) // inner answered: it is back
		}
		if w.degraded.Load() && w.degraded.CompareAndSwap(true, false) {
			w.cfg.emit(Event{Kind: EventRecovered, Limiter: w.name, Algorithm: algorithmOf(w.inner), Limit: d.Limit, Key: key})
		}
		return d, err
	}
	// The limiter's own timeout is a failure to degrade from; the caller
	// giving up is not: it wants no answer, so it gets its cancellation.
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return d, err
		}
		return d, fmt.Errorf("ratelimit: %w (limiter: %w)", ctxErr, err)
	}
	if w.cfg.cooldown > 0 {
		w.lastFailure.Store(&failure{d: d, err: err}) // before skipUntil: readers follow it
		w.skipUntil.Store(w.elapsed() + int64(w.cfg.cooldown))
	}
	if !w.degraded.Load() && w.degraded.CompareAndSwap(false, true) {
		w.cfg.emit(Event{Kind: EventDegraded, Limiter: w.name, Algorithm: algorithmOf(w.inner), Limit: d.Limit, Key: key, Err: err})
	}
	return w.answerFor(ctx, key, n, d, err)
}

// answerFor answers in inner's place after it failed with err.
func (w *wrapper) answerFor(ctx context.Context, key string, n int, d Decision, err error) (Decision, error) {
	w.stats.fallbacks.Add(1)
	if w.cfg.on() {
		w.cfg.emit(Event{Kind: EventFallback, Limiter: w.name, Algorithm: algorithmOf(w.inner), Limit: d.Limit, Key: key, Err: err})
	}
	if w.cfg.onDegrade != nil {
		w.cfg.onDegrade(ctx, err)
	}
	return w.degrade(ctx, key, n, d, err)
}

// elapsed is 1 + the ns since the wrapper was made: never 0, which marks a
// healthy limiter in skipUntil.
func (w *wrapper) elapsed() int64 { return int64(w.now().Sub(w.base)) + 1 }

// algorithmOf is l's Algorithm when it tells (Memory, Redis), else 0.
func algorithmOf(l Limiter) Algorithm {
	if a, ok := l.(interface{ Algorithm() Algorithm }); ok {
		return a.Algorithm()
	}
	return 0
}

// mustPassThrough reports errors no wrapper may hide: those caused by the
// request itself, which fails the same way on any limiter, bad
// configuration, which allowing or denying everything would only mask, and
// a full key table's refusal of a new key, which is the limiter's decision
// for that key: answering it in the limiter's place would let that key in
// (Fallback, FailOpen) and, through the cooldown, change every other key's
// answer (issue 12).
func mustPassThrough(err error) bool {
	return errors.Is(err, ErrInvalidRequest) || errors.Is(err, ErrExceedsLimit) ||
		errors.Is(err, ErrInvalidConfig) || errors.Is(err, ErrTooManyKeys)
}

// isNil reports a nil Limiter, including a typed nil pointer such as the
// *Memory of a NewMemory call whose error was ignored, which would
// otherwise panic on the first request instead of failing visibly.
func isNil(l Limiter) bool {
	if l == nil {
		return true
	}
	switch v := reflect.ValueOf(l); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Interface, reflect.Slice:
		return v.IsNil()
	}
	return false
}

// Peek reads key's quota from the wrapped limiter (an error if it is not a
// Peeker). While the limiter fails, Fallback peeks at the secondary, and
// FailOpen and FailClosed answer what their AllowN would. Peeks start no
// cooldown, fire no hooks and are not counted in Stats.
func (w *wrapper) Peek(ctx context.Context, key string) (Decision, error) {
	if w.cfgErr != nil {
		return Decision{}, w.cfgErr
	}
	p, ok := w.inner.(Peeker)
	if !ok {
		return Decision{}, fmt.Errorf("%w: Peek: the wrapped %T cannot peek", ErrInvalidRequest, w.inner)
	}
	d, err := p.Peek(ctx, key)
	if err == nil || mustPassThrough(err) || ctx.Err() != nil {
		return d, err
	}
	if w.peekAlt != nil {
		return w.peekAlt(ctx, key, d, err)
	}
	return w.degrade(ctx, key, 1, d, err)
}
