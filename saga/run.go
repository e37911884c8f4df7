package saga

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
)

// run is one execution (or resumption) of a saga by this process. Runs
// are pooled per Saga (see Saga.runs): nothing a caller, a step or a log
// can hold on to lives in one (the Result, the heartbeat and the first
// tries' contexts are in the execution, allocated anew each time).
type run[T any] struct {
	s     *Saga[T]
	id    string
	token int64
	res   *Result[T]
	ctx   context.Context // the caller's
	fwd   context.Context // ctx, cancelled too if the lease is lost: actions
	logc  context.Context // without ctx's cancellation: log writes (see newRun)
	t     time.Time       // the clock as of the latest transition
	t0    time.Time       // the clock when the run began
	hb    *heartbeat      // &hbuf
	hbuf  heartbeat       // reused by the next run once stopped (see heartbeat.stop)
	x     *stepExec       // the execution's, shared by its steps' contexts
	hold  memHold         // the saga in the Saga's MemoryLog, when this run created it
	ra    *redisArgs      // the saga's keys and arguments in the Saga's RedisLog
	tries []stepCtx       // each action's first try's context, when the execution has room
	renw  func() bool     // r.renew, made once per pooled run

	mu        sync.Mutex
	cancelFwd context.CancelCauseFunc
	bg        context.Context // ctx without its cancellation, cancelled if the lease is lost: compensations; made when first needed
	cancelBg  context.CancelCauseFunc
	lost      error

	pending    []Entry
	pendingErr []error
	pendBuf    [2]Entry
	pendErrBuf [2]error
	data       []byte // JSON of res.Data, valid unless dirty
	spare      []byte // MemoryLog or RedisLog only: the buffer data moves to when it changes (see json)
	buf        bytes.Buffer
	enc        *json.Encoder
	dirty      bool
	snap       T // res.Data as data encodes it, when s.comparable
	encErr     error
	stopped    bool              // the log failed or the lease was lost: do nothing more
	meta       map[string]string // WithMetadata's, as logged with Started
}

// execution is what one Execute allocates: its Result and, for short
// sagas, the result's steps and the contexts of the actions' first tries
// with what they share, in one allocation. A caller may keep the Result
// and a step its context; neither is ever reused.
type execution[T any] struct {
	res   Result[T]
	steps [4]StepResult
	tries [4]stepCtx
	x     stepExec
}

func (s *Saga[T]) newRun(ctx context.Context, id string) *run[T] {
	r, _ := s.runs.Get().(*run[T])
	if r == nil {
		r = &run[T]{}
		r.renw = r.renew
		r.enc = json.NewEncoder(&r.buf)
	}
	e := &execution[T]{}
	r.s, r.id, r.dirty = s, id, true
	r.res, r.hb = &e.res, &r.hbuf
	e.x.names, e.x.id = &s.named, id
	r.x = &e.x
	r.res.Saga, r.res.ID = s.name, id
	if n := len(s.steps); n <= len(e.steps) {
		r.res.Steps = e.steps[:n:n]
		r.tries = e.tries[:n:n]
	} else {
		r.res.Steps = make([]StepResult, n)
	}
	for i, n := range s.names {
		r.res.Steps[i].Name = n
	}
	r.fwd, r.cancelFwd = context.WithCancelCause(ctx)
	r.ctx = ctx
	if s.mem != nil {
		// A MemoryLog looks at a ctx for its Err only, always nil
		// without cancellation: skip making one.
		r.logc = context.Background()
	} else {
		r.logc = context.WithoutCancel(ctx)
	}
	r.pending, r.pendingErr = r.pendBuf[:0], r.pendErrBuf[:0]
	if s.rlog != nil {
		if r.ra == nil {
			r.ra = &redisArgs{}
		}
		r.ra.reset(s.rlog, s.name, id)
	}
	if s.ownsData() {
		r.data = r.data[:0] // the log copies what it keeps: the buffer is ours
	} else {
		r.data = nil // another Log may keep the slices it was given
	}
	r.t = s.now()
	r.t0 = r.t
	return r
}

// ownsData reports that the log copies the data it is given before the
// call returns, so that a run may reuse its data buffers.
func (s *Saga[T]) ownsData() bool { return s.mem != nil || s.rlog != nil }

// close ends the run and hands it back to the Saga's pool: nothing refers
// to it any more once the heartbeat has stopped.
func (r *run[T]) close() {
	r.hb.stop()
	r.mu.Lock()
	r.cancelFwd(nil)
	if r.cancelBg != nil {
		r.cancelBg(nil)
	}
	r.mu.Unlock()
	s := r.s
	var zero T
	r.s, r.id, r.token, r.res, r.hb, r.hold, r.tries, r.x = nil, "", 0, nil, nil, memHold{}, nil, nil
	r.ctx, r.fwd, r.logc, r.cancelFwd, r.bg, r.cancelBg, r.lost = nil, nil, nil, nil, nil, nil, nil
	clear(r.pendBuf[:])
	clear(r.pendErrBuf[:])
	if r.stopped {
		// A write given up on at its deadline may still be read by
		// go-redis: its buffers are not ours to reuse.
		r.ra = nil
	}
	r.snap, r.encErr, r.stopped, r.meta = zero, nil, false, nil
	s.runs.Put(r)
}

// compCtx is the context compensations run on.
func (r *run[T]) compCtx() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bg == nil {
		parent := r.logc
		if r.s.mem != nil {
			parent = context.WithoutCancel(r.ctx) // compensations see ctx's values
		}
		r.bg, r.cancelBg = context.WithCancelCause(parent)
		if r.lost != nil {
			r.cancelBg(r.lost)
		}
	}
	return r.bg
}

// logTime is the time the MemoryLog takes for the pending transitions:
// theirs, when the log and the saga share a clock (the clock was read for
// them an instant ago), else zero, for the log to read its own.
func (r *run[T]) logTime() time.Time {
	if r.s.logClock {
		return r.t
	}
	return time.Time{}
}

// tick reads the clock for a transition. With the real clock (time.Now),
// it adds the monotonic time elapsed since the run began to the run's
// first reading: one clock read instead of time.Now's two (wall and
// monotonic), and times that a step of the wall clock cannot reorder.
func (r *run[T]) tick() time.Time {
	if r.s.realClock {
		r.t = r.t0.Add(time.Since(r.t0))
	} else {
		r.t = r.s.now()
	}
	return r.t
}

// startHeartbeat renews the lease every s.beat while the run lasts; if
// another process took the saga over, it cancels the run's contexts so
// that the running step stops early.
func (r *run[T]) startHeartbeat() {
	if b := r.s.beats; b != nil {
		b.start(r.hb, r.renw)
		return
	}
	r.hb.start(r.s.beat, r.renw)
}

func (r *run[T]) renew() bool {
	err := r.s.log.Renew(r.logc, r.s.name, r.id, r.token, r.s.lease)
	if lostHold(err) {
		cause := fmt.Errorf("saga %s/%s: %w", r.s.name, r.id, err)
		r.mu.Lock()
		r.lost = cause
		r.cancelFwd(cause)
		if r.cancelBg != nil {
			r.cancelBg(cause)
		}
		r.mu.Unlock()
		return false
	}
	return !errors.Is(err, ErrFinished)
}

// json returns the JSON of the data, encoding it again only after a step
// may have changed it, and sharing the previous bytes when it did not.
// On a MemoryLog or RedisLog, which copy what they keep, the bytes live in two
// buffers of the run's, used in turn; another Log gets a fresh copy each
// time the data changes, since it may keep it.
func (r *run[T]) json() []byte {
	if !r.dirty {
		return r.data
	}
	r.buf.Reset()
	if err := r.enc.Encode(&r.res.Data); err != nil {
		r.encErr = err
		return r.data
	}
	b := bytes.TrimSuffix(r.buf.Bytes(), []byte("\n"))
	switch {
	case bytes.Equal(b, r.data):
	case r.s.ownsData():
		r.data, r.spare = append(r.spare[:0], b...), r.data
	default:
		r.data = bytes.Clone(b)
	}
	if r.s.comparable {
		r.snap = r.res.Data
	}
	r.dirty = false
	return r.data
}

// changed records that a step ran and may have changed the data: unless
// the data's type lets ==  tell (see comparableJSON) that it did not.
func (r *run[T]) changed() {
	if !r.s.comparable || any(r.res.Data) != any(r.snap) {
		r.dirty = true
	}
}

// note records a transition to be written with the next flush (which
// applies it to the result: the result shows what the log holds).
func (r *run[T]) note(kind EntryKind, step, attempts int, d time.Duration, err error) {
	e := Entry{Kind: kind, Step: step, Attempts: attempts, Duration: d, Data: r.json(), At: r.t}
	if step >= 0 {
		e.StepName = r.s.names[step]
	}
	if err != nil {
		e.Err = err.Error()
	}
	r.pending = append(r.pending, e)
	r.pendingErr = append(r.pendingErr, err)
}

// noteFinished records the Finished transition; step names the step that
// failed or whose compensation failed.
func (r *run[T]) noteFinished(st Status, step string, cause error) {
	e := Entry{Kind: Finished, Step: -1, StepName: step, Status: st, Data: r.json(), At: r.t}
	if cause != nil {
		e.Err = cause.Error()
	}
	r.pending = append(r.pending, e)
	r.pendingErr = append(r.pendingErr, cause)
}

// flush writes the pending transitions; false means the run must stop.
func (r *run[T]) flush() bool {
	if r.stopped {
		return false
	}
	if r.encErr != nil {
		return r.stop(fmt.Errorf("encoding data: %w", r.encErr))
	}
	if len(r.pending) == 0 {
		return true
	}
	var err error
	if r.hold.rec != nil {
		err = r.s.mem.appendHeld(r.logc, r.hold, r.token, r.s.lease, r.pending, r.logTime())
	} else if r.ra != nil {
		err = r.s.rlog.writeWith(r.logc, r.s.name, r.id, r.ra, r.token, r.s.leaseArg, r.pending, true)
	} else {
		err = r.s.log.Append(r.logc, r.s.name, r.id, r.token, r.s.lease, r.pending)
	}
	if err != nil {
		return r.stop(err)
	}
	r.emitPending()
	return true
}

func (r *run[T]) stop(err error) bool {
	r.stopped = true
	r.pending, r.pendingErr = r.pending[:0], r.pendingErr[:0]
	r.res.Status = Running
	switch {
	case errors.Is(err, ErrLeaseLost):
		r.res.Err = fmt.Errorf("saga %s/%s stopped: another process took it over: %w", r.s.name, r.id, err)
	case errors.Is(err, ErrNotFound):
		r.res.Err = fmt.Errorf("saga %s/%s stopped: its log is gone (Redis lost its data: restarted without persistence, or flushed), "+
			"so Recover cannot finish it; the steps done so far stay done: %w", r.s.name, r.id, err)
	default:
		r.res.Err = fmt.Errorf("saga %s/%s stopped unfinished, Recover will finish it: %w", r.s.name, r.id, err)
	}
	r.s.stats.stopped.Add(1)
	logStopped(r.s.logger, r.s.name, r.id, r.res.Err)
	return false
}

// lostHold reports an error after which this process must not touch the
// saga again: another process holds it, or the log no longer has it.
func lostHold(err error) bool {
	return errors.Is(err, ErrLeaseLost) || errors.Is(err, ErrNotFound)
}

func (r *run[T]) emitPending() {
	for i := range r.pending {
		r.res.apply(&r.pending[i], r.pendingErr[i])
		if e := &r.pending[i]; e.Kind == Finished {
			r.s.stats.finished(e.Status, r.res.Recovered)
		}
	}
	if fn, l := r.s.observer, r.s.logger; fn != nil || l != nil {
		for i := range r.pending {
			e := r.event(&r.pending[i], r.pendingErr[i])
			if fn != nil {
				fn(e)
			}
			logEvent(l, e)
		}
	}
	if fn := r.s.onFailed; fn != nil {
		if n := len(r.pending); n > 0 && r.pending[n-1].Kind == Finished && r.pending[n-1].Status == Failed {
			fn(r.event(&r.pending[n-1], r.pendingErr[n-1]))
		}
	}
	r.pending, r.pendingErr = r.pending[:0], r.pendingErr[:0]
}

func (r *run[T]) event(e *Entry, err error) Event {
	return Event{Saga: r.s.name, ID: r.id, Kind: e.Kind, Step: e.Step, StepName: e.StepName,
		Attempts: e.Attempts, Duration: e.Duration, Err: err, Status: e.Status, Recovered: r.res.Recovered, At: e.At}
}

// forward runs the steps from k on; begun says step k's StepBegun is
// already written.
func (r *run[T]) forward(k int, begun bool) {
	for ; k < len(r.s.steps); k++ {
		if !begun {
			if err := r.fwd.Err(); err != nil {
				r.note(StepFailed, k, 0, 0, context.Cause(r.fwd))
				r.backward(k-1, r.s.names[k], context.Cause(r.fwd))
				return
			}
			r.note(StepBegun, k, 0, 0, nil)
		}
		begun = false
		if !r.flush() {
			return
		}
		n, d, err := r.try(k, false)
		if r.stopped {
			return
		}
		if err != nil {
			r.note(StepFailed, k, n, d, err)
			r.backward(k-1, r.s.names[k], err)
			return
		}
		r.note(StepDone, k, n, d, nil)
	}
	r.finish(Completed, "", nil)
}

// backward compensates steps k, k-1, …, 0 (those with a Compensate); the
// saga failed at step failed (a name, maybe "") because of cause.
func (r *run[T]) backward(k int, failed string, cause error) {
	for ; k >= 0; k-- {
		if r.s.steps[k].Compensate == nil {
			continue
		}
		r.note(CompensationBegun, k, 0, 0, nil)
		if !r.flush() {
			return
		}
		n, d, err := r.try(k, true)
		if r.stopped {
			return
		}
		if err != nil {
			r.note(CompensationFailed, k, n, d, err)
			r.finish(Failed, r.s.names[k], err)
			return
		}
		r.note(CompensationDone, k, n, d, nil)
	}
	r.finish(Compensated, failed, cause)
}

func (r *run[T]) finish(st Status, step string, cause error) {
	r.noteFinished(st, step, cause)
	r.flush()
}

// try runs step k's Action (or Compensate) under its policy and returns
// the tries made, the time they took and the last error.
func (r *run[T]) try(k int, comp bool) (int, time.Duration, error) {
	st := &r.s.steps[k]
	fn, pol, base := st.Action, r.s.act[k], r.fwd
	if comp {
		fn, pol, base = st.Compensate, r.s.comp[k], r.compCtx()
	}
	start := r.t
	if r.s.mem == nil {
		// The clock was read for the transition just logged: with a
		// MemoryLog an instant ago (one read fewer per step, a tenth of
		// a short saga's time), with another log a round trip ago.
		start = r.tick()
	}
	r.x.meta = r.meta // set by now, for the whole execution
	for a := 1; ; a++ {
		sc := stepCtx{Context: base, x: r.x, index: int32(k), attempt: int32(a), comp: comp}
		var ctx context.Context
		if !comp && a == 1 && k < len(r.tries) {
			r.tries[k] = sc
			ctx = &r.tries[k]
		} else {
			p := new(stepCtx)
			*p = sc
			ctx = p
		}
		var cancel context.CancelFunc
		if pol.Timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, pol.Timeout)
		}
		err := call(fn, ctx, &r.res.Data)
		if cancel != nil {
			cancel()
		}
		r.changed()
		if err == nil {
			return a, r.tick().Sub(start), nil
		}
		if base.Err() != nil {
			if c := context.Cause(base); lostHold(c) {
				r.stop(c)
			}
			return a, r.tick().Sub(start), err
		}
		if a >= pol.MaxAttempts || isPermanent(err) {
			return a, r.tick().Sub(start), err
		}
		wait := pol.wait(a, nil)
		r.s.stats.retries.Add(1)
		if fn, l := r.s.observer, r.s.logger; fn != nil || l != nil {
			e := Event{Saga: r.s.name, ID: r.id, Kind: Retrying, Step: k, StepName: st.Name, Attempts: a,
				Duration: r.s.now().Sub(start), Backoff: wait, Err: err, Recovered: r.res.Recovered, At: r.s.now()}
			if fn != nil {
				fn(e)
			}
			logEvent(l, e)
		}
		if backoff.Sleep(base, wait) != nil {
			if c := context.Cause(base); lostHold(c) {
				r.stop(c)
			}
			return a, r.tick().Sub(start), err
		}
	}
}

// call runs fn, turning a panic into an error wrapping ErrPanic.
func call[T any](fn func(context.Context, *T) error, ctx context.Context, data *T) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrPanic, v, debug.Stack())
		}
	}()
	return fn(ctx, data)
}

// resume continues a saga taken over from a stopped process, from its log.
func (r *run[T]) resume(c Claim) error {
	res, err := replay[T](c.Record, r.s.names)
	if err != nil {
		return err
	}
	r.res, r.token = res, c.Token
	r.res.Recovered = true
	if len(c.Record.Entries) > 0 && c.Record.Entries[0].Kind == Started {
		r.meta = c.Record.Entries[0].Metadata
	}
	r.dirty = true
	r.startHeartbeat()

	next, begun := 0, -1 // forward: the next step; the step begun without outcome
	back, compBegun := -2, -1
	failedStep, compFailed := "", -1
	var cause error
	for i := range c.Record.Entries {
		e := &c.Record.Entries[i]
		switch e.Kind {
		case StepBegun:
			begun = e.Step
		case StepDone:
			begun, next = -1, e.Step+1
		case StepFailed:
			begun, back, failedStep, cause = -1, e.Step-1, e.StepName, errors.New(e.Err)
		case CompensationBegun:
			compBegun = e.Step
			if back == -2 {
				back = e.Step // a roll-back recovery started it
			}
		case CompensationDone:
			compBegun, back = -1, e.Step-1
		case CompensationFailed:
			compFailed, cause = e.Step, errors.New(e.Err)
		}
	}
	switch {
	case compFailed >= 0:
		r.finish(Failed, r.s.names[compFailed], cause)
	case back > -2 || compBegun >= 0:
		if cause == nil {
			cause = ErrAbandoned
		}
		if compBegun >= 0 {
			back = compBegun
		}
		r.backward(back, failedStep, cause)
	case begun >= 0 && r.s.recovery == RollForward:
		r.forward(begun, false)
	case begun >= 0:
		r.backward(begun, r.s.names[begun], ErrAbandoned)
	case next >= len(r.s.steps) || r.s.recovery == RollForward:
		r.forward(next, false)
	default:
		r.backward(next-1, "", ErrAbandoned)
	}
	return nil
}
