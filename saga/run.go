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

// run is one execution (or resumption) of a saga by this process.
type run[T any] struct {
	s     *Saga[T]
	id    string
	token int64
	res   *Result[T]
	fwd   context.Context // the caller's ctx, cancelled too if the lease is lost: actions
	logc  context.Context // without the caller's cancellation: log writes
	t     time.Time       // the clock as of the latest transition
	hb    heartbeat

	mu        sync.Mutex
	cancelFwd context.CancelCauseFunc
	bg        context.Context // logc, cancelled if the lease is lost: compensations; made when first needed
	cancelBg  context.CancelCauseFunc
	lost      error

	pending    []Entry
	pendingErr []error
	pendBuf    [2]Entry
	pendErrBuf [2]error
	data       []byte // JSON of res.Data, valid unless dirty
	buf        bytes.Buffer
	enc        *json.Encoder
	dirty      bool
	encErr     error
	stopped    bool              // the log failed or the lease was lost: do nothing more
	meta       map[string]string // WithMetadata's, as logged with Started
}

// execution holds a run, its result and, for short sagas, the result's
// steps, in one allocation.
type execution[T any] struct {
	run   run[T]
	res   Result[T]
	steps [4]StepResult
}

func (s *Saga[T]) newRun(ctx context.Context, id string) *run[T] {
	e := &execution[T]{}
	r := &e.run
	r.s, r.id, r.dirty = s, id, true
	r.res = &e.res
	r.res.Saga, r.res.ID = s.name, id
	if len(s.steps) <= len(e.steps) {
		r.res.Steps = e.steps[:len(s.steps):len(s.steps)]
	} else {
		r.res.Steps = make([]StepResult, len(s.steps))
	}
	for i, n := range s.names {
		r.res.Steps[i].Name = n
	}
	r.fwd, r.cancelFwd = context.WithCancelCause(ctx)
	r.logc = context.WithoutCancel(ctx)
	r.pending, r.pendingErr = r.pendBuf[:0], r.pendErrBuf[:0]
	r.t = s.now()
	return r
}

func (r *run[T]) close() {
	r.hb.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelFwd(nil)
	if r.cancelBg != nil {
		r.cancelBg(nil)
	}
}

// compCtx is the context compensations run on.
func (r *run[T]) compCtx() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bg == nil {
		r.bg, r.cancelBg = context.WithCancelCause(r.logc)
		if r.lost != nil {
			r.cancelBg(r.lost)
		}
	}
	return r.bg
}

func (r *run[T]) tick() time.Time {
	r.t = r.s.now()
	return r.t
}

// startHeartbeat renews the lease every s.beat while the run lasts; if
// another process took the saga over, it cancels the run's contexts so
// that the running step stops early.
func (r *run[T]) startHeartbeat() { r.hb.start(r.s.beat, r.renew) }

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
func (r *run[T]) json() []byte {
	if !r.dirty {
		return r.data
	}
	if r.enc == nil {
		r.enc = json.NewEncoder(&r.buf)
	}
	r.buf.Reset()
	if err := r.enc.Encode(&r.res.Data); err != nil {
		r.encErr = err
		return r.data
	}
	b := bytes.TrimSuffix(r.buf.Bytes(), []byte("\n"))
	if !bytes.Equal(b, r.data) {
		r.data = bytes.Clone(b)
	}
	r.dirty = false
	return r.data
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
	if err := r.s.log.Append(r.logc, r.s.name, r.id, r.token, r.s.lease, r.pending); err != nil {
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
	start := r.tick()
	for a := 1; ; a++ {
		var ctx context.Context = &stepCtx{base, StepInfo{Saga: r.s.name, ID: r.id, Step: st.Name, Index: k, Attempt: a, Compensating: comp, Metadata: r.meta}}
		var cancel context.CancelFunc
		if pol.Timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, pol.Timeout)
		}
		err := call(fn, ctx, &r.res.Data)
		if cancel != nil {
			cancel()
		}
		r.dirty = true
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
