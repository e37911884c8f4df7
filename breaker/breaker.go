package breaker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Breaker is a circuit breaker. Make one with New; it is safe for
// concurrent use. See the package doc for the state machine.
type Breaker struct {
	// word is read by every call and written on failures and transitions;
	// successes is written by every call: each on a cache line of its own.
	word      atomic.Uint64
	_         [56]byte
	successes atomic.Uint64
	_         [56]byte

	failures, ignored, slowCalls, rejections, storeErrors atomic.Uint64

	openUntil atomic.Int64 // ns on the breaker's clock (see nowNS); valid while Open
	openErr   atomic.Pointer[OpenError]

	name           string
	threshold      int
	maxProbes      int
	openTimeout    int64 // ns
	slowDur        int64 // ns, 0: calls are not timed
	slowProbeFails bool
	timeEnd        bool // read the clock when a call ends
	fast           bool // closed calls need neither the clock nor a store
	mono           bool // the clock is time.Now: read only its monotonic part
	isFailure      func(error) bool
	onChange       func(name string, from, to State)
	clock          func() time.Time
	base           time.Time
	win            *window
	frt, srt       float64
	minCalls       int
	link           *link // nil without a Store

	mu          sync.Mutex // transitions, half-open accounting, hook queue
	hoAdmitted  int        // probes admitted in this half-open period
	hoSucceeded int
	hoLease     int64 // ns: a half-open period with no news by then restarts
	transitions uint64
	lastChange  time.Time
	pending     []change
	delivering  bool
}

type change struct{ from, to State }

// outcome is how a call counts.
type outcome uint8

const (
	success outcome = iota
	failure
	ignored // context.Canceled: neither
)

// New returns a breaker for cfg, in the closed state. Configuration errors
// wrap ErrInvalidConfig.
func New(cfg Config) (*Breaker, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, err
	}
	b := &Breaker{
		name:           s.Name,
		threshold:      s.FailureThreshold,
		maxProbes:      s.HalfOpenMaxCalls,
		openTimeout:    int64(s.OpenTimeout),
		slowDur:        int64(s.SlowCallDuration),
		slowProbeFails: s.SlowCallRateThreshold > 0,
		isFailure:      s.IsFailure,
		onChange:       s.OnStateChange,
		clock:          s.Clock,
		frt:            s.FailureRateThreshold,
		srt:            s.SlowCallRateThreshold,
		minCalls:       s.MinimumCalls,
	}
	b.mono = cfg.Clock == nil
	b.base = b.clock()
	if s.windowed {
		b.win = newWindow(&s)
	}
	b.timeEnd = b.slowDur > 0 || s.WindowDuration > 0
	b.fast = s.Store == nil && !b.timeEnd
	if s.Store != nil {
		if err := s.Store.attach(b, &s); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Name returns Config.Name.
func (b *Breaker) Name() string { return b.name }

// State returns the breaker's state as of its last call or transition. An
// open circuit whose OpenTimeout has passed reports Open until a call
// arrives and becomes the first probe.
func (b *Breaker) State() State { return stateOf(b.word.Load()) }

// Execute runs fn(ctx) if the circuit lets it through and records the
// outcome. It returns fn's error, or, without running fn, an *OpenError
// (errors.Is ErrOpen) while the circuit is open or ErrTooManyCalls when the
// half-open probe quota is taken. A panic in fn is recorded as a failure
// and re-raised. With a shared store, a call may also return ctx's error
// without running fn when ctx ends while the store is being asked. A nil
// fn returns ErrNilFunc and counts as nothing.
func (b *Breaker) Execute(ctx context.Context, fn func(context.Context) error) error {
	if fn == nil {
		return ErrNilFunc
	}
	if b.fast {
		if w := b.word.Load(); stateOf(w) == Closed {
			return b.runClosed(ctx, fn, w)
		}
	}
	return b.execute(ctx, fn)
}

// Do is Execute for a function with a result. On refusal it returns T's
// zero value and the refusal error (ErrNilFunc for a nil fn).
func Do[T any](ctx context.Context, b *Breaker, fn func(context.Context) (T, error)) (T, error) {
	var v T
	if fn == nil {
		return v, ErrNilFunc
	}
	err := b.Execute(ctx, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	return v, err
}

func (b *Breaker) execute(ctx context.Context, fn func(context.Context) error) error {
	now := b.nowNS()
	if b.link != nil {
		b.link.maybeSync(ctx, b, now)
	}
	w := b.word.Load()
	switch stateOf(w) {
	case Closed:
		return b.runClosed(ctx, fn, w)
	case Open:
		if now < b.openUntil.Load() {
			return b.reject()
		}
	}
	if b.link != nil && !b.link.down.Load() {
		return b.probeShared(ctx, fn, now)
	}
	return b.probeLocal(ctx, fn, now)
}

// reject refuses a call while open, with the open period's cached error.
func (b *Breaker) reject() error {
	b.rejections.Add(1)
	if e := b.openErr.Load(); e != nil {
		return e
	}
	return ErrOpen
}

// nowNS is the breaker's clock in ns since New, monotonic when the clock is.
func (b *Breaker) nowNS() int64 {
	if b.mono {
		return int64(time.Since(b.base)) // one monotonic read instead of two clocks
	}
	return int64(b.clock().Sub(b.base))
}

func (b *Breaker) timeAt(ns int64) time.Time { return b.base.Add(time.Duration(ns)) }
