package breaker

// This file is the whole state machine, in the order of the state diagram:
// the breaker and its state word, then a call's walk through closed → open
// → half-open, then the transitions and how a shared breaker adopts the
// fleet's news. Configuration, metrics, events, the sliding window and the
// Redis store live in files of their own.

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// State is the state of a circuit.
type State int

// The states. The zero State is Closed.
const (
	// Closed: calls run; failures are counted and may open the circuit.
	Closed State = iota
	// HalfOpen: after OpenTimeout, up to HalfOpenMaxCalls probes run; the
	// other calls get ErrTooManyCalls. All probes succeeding closes the
	// circuit, any failing re-opens it.
	HalfOpen
	// Open: calls are refused with ErrOpen without running.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

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
	notify         notifier // Config.Observer and Config.Logger
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

// The breaker's state word packs, so that the closed fast path needs one
// atomic load and a failure one CAS:
//
//	bits 63..32  generation: +1 on every transition, so outcomes of calls
//	             admitted in an earlier period are told apart
//	bits 31..2   consecutive failures in the current closed period
//	bits  1..0   State
const (
	stateMask   = 3
	consecShift = 2
	consecOne   = 1 << consecShift
	maxConsec   = 1<<30 - 1
	consecMask  = maxConsec << consecShift
	genShift    = 32
)

func stateOf(w uint64) State   { return State(w & stateMask) }
func consecOf(w uint64) int    { return int(w >> consecShift & maxConsec) }
func sameGen(a, b uint64) bool { return a>>genShift == b>>genShift }
func nextWord(w uint64, to State) uint64 {
	return (w>>genShift+1)<<genShift | uint64(to)
}

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
		notify:         notifier{observer: s.Observer, logger: s.Logger},
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

// State returns the circuit's state. An open circuit whose OpenTimeout has
// passed is half-open, whether or not a call has come since: reading the
// state makes that transition, if no call made it first, and
// OnStateChange and the observer report it then, once. (A dashboard
// polling State sees half-open on time; the transition is not reported
// again when the first probe arrives.) With a shared store this is the
// breaker's view, without a round trip: see RedisStore for how fresh it is.
func (b *Breaker) State() State {
	w := b.word.Load()
	if stateOf(w) == Open {
		w = b.observe(w)
	}
	return stateOf(w)
}

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

// execute is a call's walk off the fast path: learn the fleet's news if
// due, then run closed, refuse while open, or probe.
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
			return b.reject(ctx)
		}
	}
	if b.link != nil && !b.link.down.Load() {
		return b.probeShared(ctx, fn, now)
	}
	return b.probeLocal(ctx, fn, now)
}

// ---- Closed ----

// runClosed runs fn as a closed-state call admitted in the period of w.
func (b *Breaker) runClosed(ctx context.Context, fn func(context.Context) error, w uint64) error {
	var start int64
	if b.slowDur > 0 {
		start = b.nowNS()
	}
	done := false
	defer func() {
		if !done { // fn panicked (or called runtime.Goexit)
			b.closedDone(ctx, w, failure, start)
		}
	}()
	err := fn(ctx)
	done = true
	b.closedDone(ctx, w, b.classify(err), start)
	return err
}

func (b *Breaker) classify(err error) outcome {
	if err == nil {
		return success
	}
	if b.isFailure(err) {
		return failure
	}
	if errors.Is(err, context.Canceled) {
		return ignored
	}
	return success
}

// count adds a finished call to the counters.
func (b *Breaker) count(o outcome, slow bool) {
	switch o {
	case success:
		b.successes.Add(1)
	case failure:
		b.failures.Add(1)
	default:
		b.ignored.Add(1)
	}
	if slow {
		b.slowCalls.Add(1)
	}
}

// closedDone records the outcome of a closed-state call admitted in the
// period of w, and trips the circuit when a threshold is reached. Outcomes
// of calls admitted in an earlier period only count in the metrics.
func (b *Breaker) closedDone(ctx context.Context, w uint64, o outcome, start int64) {
	var now int64
	slow := false
	if b.timeEnd {
		now = b.nowNS()
		slow = b.slowDur > 0 && now-start > b.slowDur
	}
	b.count(o, slow)
	if o == ignored {
		return
	}
	trip := false
	if b.win != nil {
		calls, fails, slows, ok := b.win.add(uint32(w>>genShift), now, o == failure, slow)
		if !ok {
			return
		}
		trip = b.judge(calls, fails, slows)
	}
	if o == success {
		for {
			cur := b.word.Load()
			if cur&consecMask == 0 || !sameGen(cur, w) || b.word.CompareAndSwap(cur, cur&^consecMask) {
				break
			}
		}
	} else {
		for !trip {
			cur := b.word.Load()
			if !sameGen(cur, w) {
				return
			}
			if consecOf(cur)+1 >= b.threshold {
				trip = true
			} else if b.word.CompareAndSwap(cur, cur+consecOne) {
				break
			}
		}
	}
	if trip {
		b.trip(ctx, w)
	}
}

// judge reports whether the window's rates open the circuit.
func (b *Breaker) judge(calls, fails, slows int) bool {
	if calls == 0 || calls < b.minCalls {
		return false
	}
	return b.frt > 0 && float64(fails)/float64(calls) >= b.frt ||
		b.srt > 0 && float64(slows)/float64(calls) >= b.srt
}

// ---- Closed → Open ----

// trip opens the circuit if it is still in the closed period of w, then
// tells the shared store.
func (b *Breaker) trip(ctx context.Context, w uint64) {
	now := b.nowNS()
	b.mu.Lock()
	cur := b.word.Load()
	if !sameGen(cur, w) || stateOf(cur) != Closed {
		b.mu.Unlock()
		return
	}
	b.moveLocked(cur, Open, now, b.openTimeout)
	l := b.link
	report := l != nil && !l.down.Load()
	if report {
		l.pending++
	}
	b.mu.Unlock()
	b.deliver()
	if report {
		sh, err := l.call(reportContext(ctx), b, now, opTrip, 0, 0)
		if err == nil {
			b.adopt(sh, now)
		}
		b.mu.Lock()
		l.pending--
		b.mu.Unlock()
	}
}

// ---- Open ----

// reject refuses a call while open, with the open period's cached error.
func (b *Breaker) reject(ctx context.Context) error {
	var err error = ErrOpen
	if e := b.openErr.Load(); e != nil {
		err = e
	}
	b.refused(ctx, err)
	return err
}

// refused counts a call refused without running fn and reports it.
func (b *Breaker) refused(ctx context.Context, err error) {
	b.rejections.Add(1)
	if b.notify.on() {
		b.notify.rejected(ctx, b.name, err)
	}
}

// ---- Open → Half-open ----

// observe moves an open circuit whose open period is over to half-open,
// as the first call after it would, and returns the state word after.
func (b *Breaker) observe(w uint64) uint64 {
	now := b.nowNS()
	if now < b.openUntil.Load() {
		return w
	}
	b.mu.Lock()
	cur := b.word.Load()
	if stateOf(cur) == Open && now >= b.openUntil.Load() {
		b.moveLocked(cur, HalfOpen, now, b.openTimeout)
		cur = b.word.Load()
	}
	b.mu.Unlock()
	b.deliver()
	return cur
}

// ---- Half-open ----

// probeLocal admits a probe by this breaker's own accounting: memory
// breakers always, shared ones while their store is unreachable.
func (b *Breaker) probeLocal(ctx context.Context, fn func(context.Context) error, now int64) error {
	b.mu.Lock()
	cur := b.word.Load()
	switch stateOf(cur) {
	case Closed:
		b.mu.Unlock()
		return b.runClosed(ctx, fn, cur)
	case Open:
		if now < b.openUntil.Load() {
			b.mu.Unlock()
			return b.reject(ctx)
		}
		b.moveLocked(cur, HalfOpen, now, b.openTimeout)
	case HalfOpen:
		if now >= b.hoLease { // no news from the probes for OpenTimeout: presumed lost
			b.moveLocked(cur, HalfOpen, now, b.openTimeout)
		} else if b.hoAdmitted >= b.maxProbes {
			b.mu.Unlock()
			b.refused(ctx, ErrTooManyCalls)
			return ErrTooManyCalls
		}
	}
	b.hoAdmitted++
	b.hoLease = now + b.openTimeout
	cur = b.word.Load()
	b.mu.Unlock()
	b.deliver()
	return b.runProbe(ctx, fn, cur, noEpoch)
}

// probeShared asks the shared store for a probe slot (one round trip).
func (b *Breaker) probeShared(ctx context.Context, fn func(context.Context) error, now int64) error {
	sh, err := b.link.call(ctx, b, now, opAcquire, 0, 0)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return b.probeLocal(ctx, fn, now)
	}
	w := b.adopt(sh, now)
	if !sh.admitted {
		if sh.state == Open {
			return b.reject(ctx)
		}
		b.refused(ctx, ErrTooManyCalls)
		return ErrTooManyCalls
	}
	switch stateOf(w) {
	case Closed:
		return b.runClosed(ctx, fn, w)
	case Open: // newer news arrived meanwhile
		return b.reject(ctx)
	}
	return b.runProbe(ctx, fn, w, sh.epoch)
}

// noEpoch marks a probe admitted by local accounting.
const noEpoch = -1

// runProbe runs fn as a half-open probe of the period of w; epoch is the
// shared store's period that admitted it, or noEpoch.
func (b *Breaker) runProbe(ctx context.Context, fn func(context.Context) error, w uint64, epoch int64) error {
	var start int64
	if b.slowDur > 0 {
		start = b.nowNS()
	}
	done := false
	defer func() {
		if !done {
			b.probeDone(ctx, w, epoch, failure, start)
		}
	}()
	err := fn(ctx)
	done = true
	b.probeDone(ctx, w, epoch, b.classify(err), start)
	return err
}

// ---- Half-open → Closed or Open ----

// probeDone records a probe's outcome: all probes succeeding close the
// circuit, any failing re-opens it, a canceled one gives its slot back.
func (b *Breaker) probeDone(ctx context.Context, w uint64, epoch int64, o outcome, start int64) {
	now := b.nowNS()
	slow := b.slowDur > 0 && now-start > b.slowDur
	b.count(o, slow)
	if o == success && slow && b.slowProbeFails {
		o = failure
	}
	if l := b.link; l != nil && epoch != noEpoch && !l.down.Load() {
		if sh, err := l.call(reportContext(ctx), b, now, opFinish, epoch, o); err == nil {
			b.adopt(sh, now)
			return
		}
	}
	b.mu.Lock()
	cur := b.word.Load()
	if sameGen(cur, w) && stateOf(cur) == HalfOpen {
		switch o {
		case success:
			if b.hoSucceeded++; b.hoSucceeded >= b.maxProbes {
				b.moveLocked(cur, Closed, now, 0)
			}
		case failure:
			b.moveLocked(cur, Open, now, b.openTimeout)
		default:
			if b.hoAdmitted > 0 {
				b.hoAdmitted--
			}
		}
	}
	b.mu.Unlock()
	b.deliver()
}

// ---- Transitions ----

// change is a state change waiting to be reported.
type change struct{ from, to State }

// moveLocked starts a new period in state to (which may be the current
// state: a new period of it), d being the open time or half-open lease.
func (b *Breaker) moveLocked(cur uint64, to State, now, d int64) {
	from := stateOf(cur)
	switch to {
	case Open:
		until := now + d
		b.openUntil.Store(until)
		b.openErr.Store(&OpenError{Name: b.name, Until: b.timeAt(until), now: b.clock})
	case HalfOpen:
		b.hoAdmitted, b.hoSucceeded, b.hoLease = 0, 0, now+d
	}
	next := nextWord(cur, to)
	if to == Closed && b.win != nil {
		b.win.reset(uint32(next >> genShift))
	}
	b.word.Store(next)
	if from != to {
		b.transitions++
		b.lastChange = b.timeAt(now)
		if b.onChange != nil || b.notify.on() {
			b.pending = append(b.pending, change{from, to})
		}
	}
}

// deliver reports the queued changes to OnStateChange and the observer,
// in order, outside b.mu. One goroutine delivers at a time; a change
// queued meanwhile (also by a hook itself) is delivered by the goroutine
// already delivering.
func (b *Breaker) deliver() {
	if b.onChange == nil && !b.notify.on() {
		return
	}
	for {
		b.mu.Lock()
		if b.delivering || len(b.pending) == 0 {
			b.mu.Unlock()
			return
		}
		c := b.pending[0]
		b.pending = b.pending[:copy(b.pending, b.pending[1:])]
		b.delivering = true
		b.mu.Unlock()
		b.callHooks(c)
	}
}

// callHooks reports one change; a panicking hook does not wedge delivery.
func (b *Breaker) callHooks(c change) {
	defer func() {
		b.mu.Lock()
		b.delivering = false
		b.mu.Unlock()
	}()
	if b.onChange != nil {
		b.onChange(b.name, c.from, c.to)
	}
	if b.notify.on() {
		b.notify.stateChanged(b.name, c.from, c.to)
	}
}

// ---- The fleet's news ----

// adopt makes the breaker's state the shared one and returns the state
// word after. It ignores news older than the shared period the breaker
// already adopted, and news of that same period while a local trip is
// being reported. A breaker that decided alone while detached differs from
// the store in the same period: it takes the store's state back, except
// that a breaker that saw the period's open time end (State, a call) has
// rightly moved on to half-open: in the store, half-open is a new period,
// so news of the open one is stale, not a step back.
func (b *Breaker) adopt(sh shared, now int64) uint64 {
	l := b.link
	b.mu.Lock()
	cur := b.word.Load()
	observed := sh.state == Open && stateOf(cur) == HalfOpen
	if sh.epoch < l.epoch || sh.epoch == l.epoch && (sh.state == stateOf(cur) || observed || l.pending > 0) {
		b.mu.Unlock()
		return cur
	}
	l.epoch = sh.epoch
	if observed && sh.remaining <= 0 {
		// A newer open period, but over too: half-open, as this breaker
		// already is; moving to open only to read half-open again would
		// report two transitions that did not happen.
		b.mu.Unlock()
		return cur
	}
	b.moveLocked(cur, sh.state, now, sh.remaining)
	cur = b.word.Load()
	b.mu.Unlock()
	b.deliver()
	return cur
}

// ---- Time ----

// nowNS is the breaker's clock in ns since New, monotonic when the clock is.
func (b *Breaker) nowNS() int64 {
	if b.mono {
		return int64(time.Since(b.base)) // one monotonic read instead of two clocks
	}
	return int64(b.clock().Sub(b.base))
}

func (b *Breaker) timeAt(ns int64) time.Time { return b.base.Add(time.Duration(ns)) }
