package saga

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"sync"
	"time"
)

// Saga is a named sequence of steps over data of type T, run by Execute and
// finished after a crash by Recover. It is safe for concurrent use: many
// executions (of different ids) may run at once.
type Saga[T any] struct {
	name     string
	steps    []Step[T]
	names    []string
	named    sagaSteps // name and names, for step contexts
	act      []Policy  // per step, resolved
	comp     []Policy
	log      Log
	now      func() time.Time
	lease    time.Duration
	beat     time.Duration
	recovery Recovery
	observer func(Event)
	onFailed func(Event)
	logger   *slog.Logger
	metadata metadataFunc // WithMetadata
	stats    counters

	mem        *MemoryLog // log, when it is a MemoryLog: its writes take a shortcut (see memHold)
	rlog       *RedisLog  // log, when it is a RedisLog: its writes reuse one redisArgs per run
	leaseArg   any        // with rlog: the lease in ms, boxed once
	beats      *beats     // with mem: the heartbeats of all running sagas
	logClock   bool       // with mem: its clock is now, so it takes the time of each transition instead of reading it again
	comparable bool       // see comparableJSON
	realClock  bool       // now is time.Now (see run.tick)
	runs       sync.Pool  // of *run[T]
}

// New returns the saga called name with steps, run in order. The name
// identifies the saga in the log (with each execution's id), so keep it
// stable across deploys, as the step names. Options: WithLog (default: a
// MemoryLog), WithClock, WithLease, WithRecovery, WithActionPolicy,
// WithCompensationPolicy, WithStepPolicy, WithObserver, WithOnFailed,
// WithLogger.
// Errors wrap ErrInvalidConfig: an empty name or one with a brace or '/'
// (see StepKey), no steps, an empty or duplicate step name or one with
// '/', a nil Action, a T that JSON cannot encode.
func New[T any](name string, steps []Step[T], opts ...Option) (*Saga[T], error) {
	if err := checkSagaName(name); err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("%w: saga %q has no steps", ErrInvalidConfig, name)
	}
	s := &Saga[T]{name: name, steps: append([]Step[T](nil), steps...), names: make([]string, len(steps))}
	seen := make(map[string]int, len(steps))
	for i, st := range steps {
		if err := checkStepName(name, i, st.Name); err != nil {
			return nil, err
		}
		if st.Action == nil {
			return nil, fmt.Errorf("%w: saga %q: step %q has a nil Action", ErrInvalidConfig, name, st.Name)
		}
		if j, dup := seen[st.Name]; dup {
			return nil, fmt.Errorf("%w: saga %q: steps %d and %d are both named %q", ErrInvalidConfig, name, j, i, st.Name)
		}
		seen[st.Name] = i
		s.names[i] = st.Name
	}
	if _, err := json.Marshal(new(T)); err != nil {
		return nil, fmt.Errorf("%w: saga %q: the data type %T does not encode as JSON: %v", ErrInvalidConfig, name, new(T), err)
	}
	c := config{now: time.Now, lease: DefaultLease, recovery: RollBack}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: nil Option", ErrInvalidConfig)
		}
		if err := o.applySaga(&c); err != nil {
			return nil, err
		}
	}
	for step := range c.stepPols {
		if _, ok := seen[step]; !ok {
			return nil, fmt.Errorf("%w: WithStepPolicy(%q): saga %q has no such step", ErrInvalidConfig, step, name)
		}
	}
	madeLog := c.log == nil // with the saga's clock
	if madeLog {
		var lo []MemoryLogOption
		if c.setClock {
			lo = append(lo, WithClock(c.now))
		}
		l, err := NewMemoryLog(lo...)
		if err != nil {
			return nil, err
		}
		c.log = l
	}
	actDef := c.action.or(Policy{MaxAttempts: DefaultActionAttempts, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff})
	compDef := c.compen.or(Policy{MaxAttempts: DefaultCompensationAttempts, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff})
	for _, p := range []Policy{actDef, compDef} {
		if p.MaxBackoff < p.Backoff {
			return nil, fmt.Errorf("%w: MaxBackoff %s is below Backoff %s", ErrInvalidConfig, p.MaxBackoff, p.Backoff)
		}
	}
	s.act, s.comp = make([]Policy, len(steps)), make([]Policy, len(steps))
	for i, st := range steps {
		p := c.stepPols[st.Name]
		s.act[i], s.comp[i] = p[0].or(actDef), p[1].or(compDef)
		for _, q := range []Policy{s.act[i], s.comp[i]} {
			if q.MaxBackoff < q.Backoff {
				return nil, fmt.Errorf("%w: step %q: MaxBackoff %s is below Backoff %s", ErrInvalidConfig, st.Name, q.MaxBackoff, q.Backoff)
			}
		}
	}
	s.named = sagaSteps{saga: s.name, steps: s.names}
	s.log, s.now, s.lease, s.recovery = c.log, c.now, c.lease, c.recovery
	s.observer, s.onFailed, s.logger = c.observer, c.onFailed, c.logger
	s.metadata = c.metadata
	s.beat = c.lease / 3
	if s.mem, _ = c.log.(*MemoryLog); s.mem != nil {
		s.beats = &beats{every: s.beat}
		s.logClock = madeLog || (s.mem.realClock && isTimeNow(s.now))
	}
	if s.rlog, _ = c.log.(*RedisLog); s.rlog != nil {
		s.leaseArg = ms(s.lease)
	}
	s.comparable = comparableJSON(reflect.TypeFor[T]())
	s.realClock = isTimeNow(s.now)
	return s, nil
}

// Name returns the saga's name.
func (s *Saga[T]) Name() string { return s.name }

// Log returns the saga's log.
func (s *Saga[T]) Log() Log { return s.log }

// Execute runs the saga with id for data and returns what it did. The id
// names this execution: a business key (an order id) makes Execute
// idempotent, since an id is run once:
//
//   - a new id runs: every step in order; when a step fails, the
//     compensations of the steps before it, in reverse;
//   - an id that finished (within the log's retention) runs nothing and
//     returns the recorded Result, with Replayed set and the error it had;
//   - an id running in another process or goroutine is refused with an
//     error wrapping ErrRunning and a nil Result;
//   - an id whose process stopped (its lease expired) is taken over and
//     finished as Recover would; data is then ignored for the logged data.
//
// The error is nil when the saga Completed. Otherwise it is an *Error
// wrapping ErrCompensated (a step failed; the steps before it were undone)
// or ErrFailed (a compensation gave up; an operator must act), and the
// step's error. If the log cannot be written (or another process took the
// saga over, ErrLeaseLost), Execute stops at once, before the next action,
// and returns the log's error with a Result whose Status is Running; the
// saga is then finished by Recover once its lease expires — unless the
// log lost the saga altogether (ErrNotFound: a Redis restarted without
// persistence, or flushed), when nothing can finish it and the Result's
// Steps say what was done.
//
// Cancelling ctx stops the saga going forward: a step that has not begun
// does not, the running Action sees ctx cancelled, and the saga is
// compensated on a context without ctx's cancellation (but with its
// values), so cancelling never leaves a saga half-done.
func (s *Saga[T]) Execute(ctx context.Context, id string, data T) (*Result[T], error) {
	if id == "" {
		return nil, fmt.Errorf("%w: empty id for saga %q", ErrInvalidID, s.name)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var meta map[string]string
	if s.metadata != nil {
		meta = maps.Clone(s.metadata(ctx))
		if n := metadataSize(meta); n > MaxMetadataSize {
			return nil, fmt.Errorf("%w: saga %s/%s: metadata of %d bytes, above MaxMetadataSize", ErrInvalidConfig, s.name, id, n)
		}
	}
	r := s.newRun(ctx, id)
	defer r.close()
	r.res.Data = data
	r.meta = meta
	r.note(Started, -1, 0, 0, nil)
	r.pending[0].Metadata = meta
	r.note(StepBegun, 0, 0, 0, nil)
	if r.encErr != nil {
		return nil, fmt.Errorf("saga %s/%s: encoding data: %w", s.name, id, r.encErr)
	}
	var c Claim
	var err error
	if s.mem != nil {
		// The names were checked once, by New and above.
		c, r.hold, err = s.mem.claim(ctx, s.name, id, s.lease, r.pending, r.logTime())
	} else if r.ra != nil {
		c, err = s.rlog.claim(ctx, s.name, id, r.ra, s.leaseArg, r.pending, true)
	} else {
		c, err = s.log.Claim(ctx, s.name, id, s.lease, r.pending)
	}
	if err != nil {
		return nil, err
	}
	switch {
	case c.Created:
		r.token = c.Token
		s.stats.started.Add(1)
		r.emitPending()
		r.startHeartbeat()
		r.forward(0, true)
	case c.Record.Status != Running:
		res, err := replay[T](c.Record, s.names)
		if err != nil {
			return nil, err
		}
		res.Replayed = true
		s.stats.replayed.Add(1)
		return res, res.Err
	default:
		r.pending = r.pending[:0]
		if err := r.resume(c); err != nil {
			return nil, err
		}
	}
	return r.res, r.res.Err
}

// Recover finishes every saga of this name that a stopped process left
// running (its lease expired): it takes each over and, by the saga's
// Recovery (WithRecovery), rolls it back or forward, as Execute would have.
// Run it when a process starts and then periodically (every lease or so):
// a saga is only recoverable once its lease has expired.
//
// It returns the Result of each saga it finished (a Compensated or Failed
// saga is a result, not an error) and, joined, the errors that kept it
// from finishing some (the log failing, ErrLogMismatch). A saga that
// another process takes first is left to it.
func (s *Saga[T]) Recover(ctx context.Context) ([]*Result[T], error) {
	var (
		out   []*Result[T]
		errs  []error
		tried = make(map[string]bool)
	)
	for ctx.Err() == nil {
		ids, err := s.log.Abandoned(ctx, s.name, 256)
		if err != nil {
			errs = append(errs, err)
			break
		}
		fresh := 0
		for _, id := range ids {
			if tried[id] || ctx.Err() != nil {
				continue
			}
			tried[id] = true
			fresh++
			res, err := s.recoverOne(ctx, id)
			if res != nil {
				out = append(out, res)
			}
			if err != nil && (res == nil || res.Status == Running) {
				errs = append(errs, err)
			}
		}
		if fresh == 0 {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

func (s *Saga[T]) recoverOne(ctx context.Context, id string) (*Result[T], error) {
	c, err := s.log.Claim(ctx, s.name, id, s.lease, nil)
	if errors.Is(err, ErrRunning) || errors.Is(err, ErrNotFound) {
		return nil, nil // another process got there first
	}
	if err != nil {
		return nil, err
	}
	if c.Record.Status != Running {
		return nil, nil
	}
	r := s.newRun(ctx, id)
	defer r.close()
	if err := r.resume(c); err != nil {
		return nil, err
	}
	return r.res, r.res.Err
}

// Get returns the Result of the saga with id as its log records it,
// running nothing (Status Running while it runs), or an error wrapping
// ErrNotFound.
func (s *Saga[T]) Get(ctx context.Context, id string) (*Result[T], error) {
	rec, err := s.log.Load(ctx, s.name, id)
	if err != nil {
		return nil, err
	}
	res, err := replay[T](rec, s.names)
	if err != nil {
		return nil, err
	}
	res.Replayed = true
	return res, nil
}
