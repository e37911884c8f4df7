package cqrs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
)

// Runner feeds a Projection from an EventStore's global order: Run reads
// the log from the projection's checkpoint on, in batches, applies them,
// and once it has caught up follows new events as they are appended — woken
// by the store when it is a Waiter (MemoryStore, RedisStore), else by
// polling. A projection that was down therefore catches up when its Runner
// runs again. Rebuild builds a fresh copy of a Rebuilder from position 1
// and swaps it in, while Run goes on.
//
// Run one Runner per projection: read models in this package stay exact
// with more (each batch is applied once), but the work is done twice.
//
// A store that lost events (a Redis restarted without persistence, or
// flushed) starts its positions again at 1. A projection whose checkpoint
// lives in the same Redis (RedisReadModel, a RedisCheckpointStore) lost
// them too and simply catches up with the new log. One kept elsewhere is
// ahead of the store: Run notices when the log goes idle (the store's head
// is behind what it applied), reports ErrStoreBehind and rebuilds a
// Rebuilder from what the store holds; any other projection is held,
// reporting ErrStoreBehind, until its checkpoint is reset. Should new
// events pass the old checkpoint before the log ever goes idle, the
// events up to it are not applied to such a projection: keep projections
// beside their store, or the store on a Redis with persistence.
type Runner struct {
	store  EventStore
	p      Projection
	waiter Waiter
	cfg    runnerConfig

	running  atomic.Bool
	mu       sync.Mutex
	pos      int64
	progress chan struct{} // closed when pos moves; nil when no one waits

	applied, batches, failures, behind, rebuilds, filtered atomic.Uint64
}

// RunnerStats counts what a Runner did since it was made.
type RunnerStats struct {
	// Position is the projection's checkpoint as the runner last saw it
	// (Position()); Lag(ctx) asks the store how far behind it is.
	Position int64
	// Applied events, in Batches (filtered-out events included).
	Applied, Batches uint64
	// Filtered: events read but not handed to the projection
	// (WithEventFilter).
	Filtered uint64
	// Failures: failed reads and applies (each retried after a backoff).
	Failures uint64
	// StoreBehind: times the store was found behind the projection (it
	// lost events); Rebuilds: rebuilds swapped in.
	StoreBehind, Rebuilds uint64
}

// Stats returns the runner's counters; lock-free but for Position.
func (r *Runner) Stats() RunnerStats {
	return RunnerStats{Position: r.Position(), Applied: r.applied.Load(), Batches: r.batches.Load(), Filtered: r.filtered.Load(),
		Failures: r.failures.Load(), StoreBehind: r.behind.Load(), Rebuilds: r.rebuilds.Load()}
}

// RunnerOption configures a Runner (NewRunner): WithBatchSize,
// WithPollInterval, WithRetryBackoff, WithOnError, WithEventFilter,
// WithObserver, WithLogger. It is sealed: an option of another constructor does not
// compile.
type RunnerOption interface{ applyRunner(*runnerConfig) error }

type runnerOption func(*runnerConfig) error

func (f runnerOption) applyRunner(c *runnerConfig) error { return f(c) }

type runnerConfig struct {
	batch      int
	poll       time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	onError    func(error) error
	filter     *EventFilter // nil: every event
	obs        observer
}

// Runner defaults: batches of 256 events, an idle log polled at most every
// second, failures retried after 50ms doubling up to 5s.
const (
	DefaultBatchSize    = 256
	DefaultPollInterval = time.Second
	DefaultRetryBackoff = 50 * time.Millisecond
	DefaultMaxRetryWait = 5 * time.Second
)

// WithBatchSize sets how many events the runner reads and applies at a
// time (default DefaultBatchSize): larger batches mean fewer round trips and, for
// FuncProjection, more events replayed after a crash.
func WithBatchSize(n int) RunnerOption {
	return runnerOption(func(c *runnerConfig) error {
		if n < 1 || n > 10000 {
			return fmt.Errorf("%w: WithBatchSize(%d): must be between 1 and 10000", ErrInvalidConfig, n)
		}
		c.batch = n
		return nil
	})
}

// WithPollInterval sets, for a store that is not a Waiter, the longest
// pause between two reads of an idle log (default DefaultPollInterval); the pause starts at
// 1ms and doubles while the log stays idle.
func WithPollInterval(d time.Duration) RunnerOption {
	return runnerOption(func(c *runnerConfig) error {
		if d < time.Millisecond {
			return fmt.Errorf("%w: WithPollInterval(%s): must be at least 1ms", ErrInvalidConfig, d)
		}
		c.poll = d
		return nil
	})
}

// WithRetryBackoff sets the pause after a failed read or apply: it starts
// at min and doubles with each failure in a row, up to max (default
// DefaultRetryBackoff to DefaultMaxRetryWait). min must be above 0 (a zero pause never doubles: Run would
// retry a failing store in a busy loop) and max at least min.
func WithRetryBackoff(min, max time.Duration) RunnerOption {
	return runnerOption(func(c *runnerConfig) error {
		if min <= 0 || max < min {
			return fmt.Errorf("%w: WithRetryBackoff(%s, %s): want 0 < min ≤ max (a zero min never grows)", ErrInvalidConfig, min, max)
		}
		c.minBackoff, c.maxBackoff = min, max
		return nil
	})
}

// WithOnError sets a function that Run calls with every error (a failed
// read of the log, a projection whose Apply failed), after the observer
// (WithObserver) has seen it. Returning nil retries
// after the backoff (WithRetryBackoff); returning an error stops Run with
// it. By default Run retries for ever: a poison event holds the projection
// back, not the process — watch Lag or set this.
func WithOnError(fn func(error) error) RunnerOption {
	return runnerOption(func(c *runnerConfig) error {
		if fn == nil {
			return fmt.Errorf("%w: WithOnError(nil)", ErrInvalidConfig)
		}
		c.onError = fn
		return nil
	})
}

// NewRunner returns a runner that feeds p from store. Errors wrap
// ErrInvalidConfig.
func NewRunner(store EventStore, p Projection, opts ...RunnerOption) (*Runner, error) {
	if store == nil || p == nil {
		return nil, fmt.Errorf("%w: NewRunner: nil store or projection", ErrInvalidConfig)
	}
	c := runnerConfig{batch: DefaultBatchSize, poll: DefaultPollInterval, minBackoff: DefaultRetryBackoff, maxBackoff: DefaultMaxRetryWait}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("%w: NewRunner: nil option", ErrInvalidConfig)
		}
		if err := o.applyRunner(&c); err != nil {
			return nil, err
		}
	}
	if c.filter != nil {
		if _, ok := p.(RangeApplier); !ok {
			return nil, fmt.Errorf("%w: WithEventFilter: projection %s cannot take filtered batches (it is no RangeApplier)", ErrInvalidConfig, p.Name())
		}
	}
	r := &Runner{store: store, p: p, cfg: c}
	for s := store; s != nil; {
		if w, ok := s.(Waiter); ok {
			r.waiter = w
			break
		}
		u, ok := s.(interface{ Unwrap() EventStore })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	return r, nil
}

var errRunning = fmt.Errorf("%w: the runner is running already", ErrInvalidArgument)

// Run applies the log to the projection from its checkpoint on and then
// follows new events until ctx is done; it returns nil then, or the error
// WithOnError returned. Its own work has stopped when it returns, with
// one exception: on a Redis client built without ContextTimeoutEnabled
// (the go-redis default), a Redis call cut short by ctx or WithTimeout
// runs on in a goroutine of its own until the client's ReadTimeout ends
// it (its result is dropped), so such a goroutine may outlive Run by up to
// that ReadTimeout.
// Errors are retried with backoff (WithRetryBackoff). A Runner runs once
// at a time: a second Run or CatchUp meanwhile is an error.
func (r *Runner) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errRunning
	}
	defer r.running.Store(false)
	err := r.loop(ctx, true, -1)
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return nil
	}
	return err
}

// CatchUp applies the log to the projection up to its end as of the call
// and returns the projection's checkpoint. The end is the store's head
// when the call starts, for a store that is a Header (MemoryStore,
// RedisStore, an UpcastingStore over one): events appended meanwhile are
// left for later, so CatchUp returns even under steady appends. For other
// stores it stops at the first read that finds nothing new, which under
// steady appends may be later. Unlike Run it does not retry: it returns
// the first error.
func (r *Runner) CatchUp(ctx context.Context) (int64, error) {
	if !r.running.CompareAndSwap(false, true) {
		return 0, errRunning
	}
	defer r.running.Store(false)
	end, err := r.head(ctx)
	if err != nil {
		return 0, err
	}
	if err := r.loop(ctx, false, end); err != nil {
		return 0, err
	}
	return r.Position(), nil
}

// head returns the store's last position, or -1 when the store cannot
// tell it (it is no Header, or wraps a store that is none).
func (r *Runner) head(ctx context.Context) (int64, error) {
	h, ok := r.store.(Header)
	if !ok {
		return -1, nil
	}
	n, err := h.Head(ctx)
	if errors.Is(err, ErrInvalidArgument) {
		return -1, nil
	}
	return n, err
}

// limit returns how many events to read after pos: a batch, but not past
// end (-1: no end).
func (r *Runner) limit(pos, end int64) int {
	if end >= 0 && end-pos < int64(r.cfg.batch) {
		return int(end - pos)
	}
	return r.cfg.batch
}

// loop applies the log to the projection. follow: go on for ever, waiting
// for new events; else return at position end (-1: at the first read
// that finds nothing new).
func (r *Runner) loop(ctx context.Context, follow bool, end int64) error {
	pos := int64(-1) // unknown: read the checkpoint
	failures, idle := 0, 0
	// fail reports ob (its Kind and Err set) and waits out the backoff;
	// it returns the error that stops the loop, if any.
	fail := func(ob Observation) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !follow {
			return ob.Err
		}
		failures++
		r.failures.Add(1)
		wait := backoff.Policy{Min: r.cfg.minBackoff, Max: r.cfg.maxBackoff}.Wait(failures)
		ob.Projection, ob.Position, ob.Attempt, ob.Backoff = r.p.Name(), r.Position(), failures, wait
		r.cfg.obs.emit(ob)
		if r.cfg.onError != nil {
			if stop := r.cfg.onError(ob.Err); stop != nil {
				return stop
			}
		}
		return backoff.Sleep(ctx, wait)
	}
	moved := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if pos < 0 {
			cp, err := r.p.Checkpoint(ctx)
			if err != nil {
				if err := fail(Observation{Kind: ReadFailed, Err: err}); err != nil {
					return err
				}
				continue
			}
			pos = cp
			r.setPos(pos)
		}
		if !follow && end >= 0 && pos >= end {
			if pos > end {
				return fmt.Errorf("%w: %s is at %d, the store's head at %d", ErrStoreBehind, r.p.Name(), pos, end)
			}
			return nil
		}
		evs, err := r.store.ReadAll(ctx, pos+1, r.limit(pos, end))
		if err != nil {
			if err := fail(Observation{Kind: ReadFailed, Err: err}); err != nil {
				return err
			}
			continue
		}
		if len(evs) == 0 {
			if !follow {
				return nil
			}
			if r.storeLost(ctx, pos) {
				pos = -1
				if err := r.realign(ctx, fail); err != nil {
					return err
				}
				continue
			}
			if err := r.wait(ctx, pos, &idle); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err := fail(Observation{Kind: ReadFailed, Err: err}); err != nil {
					return err
				}
			}
			continue
		}
		idle = 0
		if err := r.applyTo(ctx, r.p, evs); err != nil {
			pos = -1
			// A moved checkpoint is no failure (another runner, a rebuild
			// swapped in): reread it — but back off if it keeps moving.
			if errors.Is(err, ErrCheckpointMoved) && moved < 3 {
				moved++
				continue
			}
			if err := fail(Observation{Kind: ApplyFailed, Err: err}); err != nil {
				return err
			}
			continue
		}
		failures, moved = 0, 0
		pos = evs[len(evs)-1].Position
		r.applied.Add(uint64(len(evs)))
		r.batches.Add(1)
		r.setPos(pos)
	}
}

// storeLost reports, for a store that tells its head, whether the head
// is behind pos, the position the runner applied: events it applied are
// gone from the store. It is asked when the log looks idle, so that a
// store restarted empty is noticed before new events pass pos (after
// that, a projection kept outside the store cannot tell). An error reading
// the head counts as no: the next read reports the outage.
func (r *Runner) storeLost(ctx context.Context, pos int64) bool {
	head, err := r.head(ctx)
	return err == nil && head >= 0 && head < pos
}

// realign deals with a store that lost events the runner applied. A
// projection that lost them too (its checkpoint in the same Redis) just
// catches up from its checkpoint; one still ahead of the store gets
// ErrStoreBehind, through fail, and a Rebuilder is then rebuilt from what
// the store holds. It returns the error that stops Run, if any.
func (r *Runner) realign(ctx context.Context, fail func(Observation) error) error {
	cp, err := r.p.Checkpoint(ctx)
	if err != nil {
		return fail(Observation{Kind: ReadFailed, Err: err})
	}
	head, err := r.head(ctx)
	if err != nil {
		return fail(Observation{Kind: ReadFailed, Err: err})
	}
	if cp <= head {
		return nil
	}
	r.behind.Add(1)
	behind := fmt.Errorf("%w: %s is at %d, the store's head at %d", ErrStoreBehind, r.p.Name(), cp, head)
	if _, ok := r.p.(Rebuilder); !ok {
		return fail(Observation{Kind: StoreBehind, Head: head, Err: behind})
	}
	r.cfg.obs.emit(Observation{Kind: StoreBehind, Projection: r.p.Name(), Position: cp, Head: head, Err: behind})
	if r.cfg.onError != nil {
		if stop := r.cfg.onError(behind); stop != nil {
			return stop
		}
	}
	if err := r.rebuild(ctx); err != nil {
		return fail(Observation{Kind: Rebuilt, Err: err})
	}
	r.rebuilt(nil)
	return nil
}

// wait returns when the log may hold events after pos.
func (r *Runner) wait(ctx context.Context, pos int64, idle *int) error {
	if r.waiter != nil {
		return r.waiter.Wait(ctx, pos)
	}
	*idle++
	return backoff.Sleep(ctx, backoff.Capped(time.Millisecond, r.cfg.poll, *idle))
}

func (r *Runner) setPos(pos int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pos = pos
	if r.progress != nil {
		close(r.progress)
		r.progress = nil
	}
}

// Position returns the checkpoint as the runner last saw it: the position
// of the last event it applied (0 before it started).
func (r *Runner) Position() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pos
}

// WaitFor returns when the runner has applied the log up to position pos
// (read-your-writes: wait for the position of an append before querying),
// or with ctx's error. It watches this runner's position: when a rebuild
// swaps in a copy, the checkpoint may move back (to where the rebuild's
// last read ended) until the rebuild or a runner catches the copy up, so
// a reader racing a Rebuild can for that moment miss an event WaitFor
// reported applied. Rebuild returns only once the copy has caught up with
// the log as it was at the swap.
func (r *Runner) WaitFor(ctx context.Context, pos int64) error {
	for {
		r.mu.Lock()
		if r.pos >= pos {
			r.mu.Unlock()
			return nil
		}
		if r.progress == nil {
			r.progress = make(chan struct{})
		}
		ch := r.progress
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Lag returns how many events of the log the projection has yet to apply,
// for a store that is a Header (MemoryStore, RedisStore).
func (r *Runner) Lag(ctx context.Context) (int64, error) {
	h, ok := r.store.(Header)
	if !ok {
		return 0, fmt.Errorf("%w: the store cannot tell its head", ErrInvalidArgument)
	}
	head, err := h.Head(ctx)
	if err != nil {
		return 0, err
	}
	return max(head-r.Position(), 0), nil
}

// Rebuild builds a fresh copy of the projection (a Rebuilder) from
// position 1 to the end of the log, then swaps it in: readers see the old
// copy until then. Run may go on meanwhile; after the swap it carries on
// on the new copy. For a store that is a Header, "the end" is the head
// when the build starts, and once more the head when the build got there
// (so that a long rebuild does not swap in a copy far behind); events
// appended after that — and those appended while the copy was swapped
// in — may be missing from the new copy for a moment after the swap:
// Rebuild applies them, up to the head right after the swap, before it
// returns. Under steady appends Rebuild therefore ends; for a store that
// is no Header, each phase instead stops at the first read that finds
// nothing new. Errors are returned, the copy discarded (an error after
// the swap leaves the new copy in place, and its runner completes it).
func (r *Runner) Rebuild(ctx context.Context) error {
	err := r.rebuild(ctx)
	if !errors.Is(err, ErrNotRebuildable) {
		r.rebuilt(err)
	}
	return err
}

// rebuilt counts and reports a rebuild that ended with err.
func (r *Runner) rebuilt(err error) {
	if err == nil {
		r.rebuilds.Add(1)
	}
	r.cfg.obs.emit(Observation{Kind: Rebuilt, Projection: r.p.Name(), Position: r.Position(), Err: err})
}

func (r *Runner) rebuild(ctx context.Context) error {
	rb, ok := r.p.(Rebuilder)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotRebuildable, r.p.Name())
	}
	b, err := rb.NewBuild(ctx)
	if err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped {
			_ = b.Discard(context.WithoutCancel(ctx))
		}
	}()
	pos, err := b.Checkpoint(ctx)
	if err != nil {
		return err
	}
	// Two rounds with a store that tells its head (to the head at the
	// start, then to the head then); one, to the first empty read, without.
	for round := 0; round < 2; round++ {
		end, err := r.head(ctx)
		if err != nil {
			return err
		}
		for end < 0 || pos < end {
			evs, err := r.store.ReadAll(ctx, pos+1, r.limit(pos, end))
			if err != nil {
				return err
			}
			if len(evs) == 0 {
				break
			}
			if err := r.applyTo(ctx, b, evs); err != nil {
				return err
			}
			pos = evs[len(evs)-1].Position
		}
		if end < 0 {
			break
		}
	}
	if err := b.Swap(ctx); err != nil {
		return err
	}
	swapped = true
	// Events appended between the last read and the swap went to the old
	// copy only: bring the new one up to the end of the log as of now, so
	// that an idle live runner (which is past them) leaves no hole. Racing
	// a live runner is safe: each batch takes effect once.
	end, err := r.head(ctx)
	if err != nil {
		return err
	}
	for {
		cp, err := r.p.Checkpoint(ctx)
		if err != nil || (end >= 0 && cp >= end) {
			return err
		}
		evs, err := r.store.ReadAll(ctx, cp+1, r.limit(cp, end))
		if err != nil || len(evs) == 0 {
			return err
		}
		if err := r.applyTo(ctx, r.p, evs); err != nil && !errors.Is(err, ErrCheckpointMoved) {
			return err
		}
	}
}
