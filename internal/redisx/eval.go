package redisx

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Releaser is told when go-redis is done with the keys and args of an Eval,
// so that a caller that pools them knows when it may reuse them.
type Releaser interface{ Release() }

// Eval runs script with keys and args within the bound, as script.Run
// does (EVALSHA, then EVAL on NOSCRIPT). keys and args must stay unchanged
// until owner (which may be nil) is released, exactly once: before Eval
// returns, unless it returns ctx's error or context.DeadlineExceeded; then
// possibly later, since a call given up on still reads them until go-redis
// is done (see the package doc). On a bound made with
// NewBound for a *redis.Client or *redis.ClusterClient, and given that
// client, concurrent Evals ride pipelines together (see the package doc);
// script must then come from redis.NewScript. On a client that does not
// honour ctx deadlines, a lone Eval allocates nothing beyond what go-redis
// does.
func (b Bound) Eval(ctx context.Context, c redis.Scripter, script *redis.Script, keys []string, args []any, owner Releaser) *redis.Cmd {
	return b.EvalMerged(ctx, c, script, nil, keys, args, owner)
}

// EvalMerged is Eval for a call that a pipeline may merge with others of
// m into one script call (see Merge); a call sent on its own runs script
// with keys and args, as Eval does. m may be nil.
func (b Bound) EvalMerged(ctx context.Context, c redis.Scripter, script *redis.Script, m *Merge, keys []string, args []any, owner Releaser) *redis.Cmd {
	if err := ctx.Err(); err != nil {
		return failed(ctx, owner, err)
	}
	limit := b.limit(ctx)
	piped := b.pipe != nil && any(c) == any(b.client)
	if b.deadlines || (limit == 0 && ctx.Done() == nil) {
		// Inline: the client cuts the call at ctx's deadline itself (or
		// nothing can cut it). With a coalescer, only a call that finds
		// room goes inline; the others queue for a pipeline.
		if !piped {
			return evalInline(ctx, limit, c, script, keys, args, owner)
		}
		if h, ok := b.pipe.claim(deadlineOf(ctx, limit)); ok {
			cmd := evalInline(ctx, limit, c, script, keys, args, owner)
			b.pipe.finishAlone(h)
			return cmd
		}
	}
	w := getCall()
	w.ctx, w.scripter, w.script, w.keys, w.args, w.owner = ctx, c, script, keys, args, owner
	if piped {
		w.merge = m
	}
	return b.send(ctx, limit, w, piped)
}

// send hands w to the coalescer (piped) or a worker, and waits for it
// within limit.
func (b Bound) send(ctx context.Context, limit time.Duration, w *call, piped bool) *redis.Cmd {
	if piped {
		w.client, w.deadline = b.client, deadlineOf(ctx, limit)
		if err := b.pipe.submit(w); err != nil {
			owner := w.owner
			w.owner = nil
			w.recycle()
			return failed(ctx, owner, err)
		}
	} else {
		dispatch(job{c: w})
	}
	if err := w.wait(ctx, limit); err != nil {
		return failed(ctx, nil, err)
	}
	cmd := w.cmd
	w.recycle()
	return cmd
}

// evalInline runs script on the caller's goroutine, under a ctx that
// carries the bound.
func evalInline(ctx context.Context, limit time.Duration, c redis.Scripter, script *redis.Script, keys []string, args []any, owner Releaser) *redis.Cmd {
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	cmd := script.Run(ctx, c, keys, args...)
	if owner != nil {
		owner.Release()
	}
	if err := cmd.Err(); err != nil {
		cmd.SetErr(settle(ctx, err))
	}
	return cmd
}

// deadlineOf is when a call started now stops waiting (zero: never).
func deadlineOf(ctx context.Context, limit time.Duration) time.Time {
	if limit > 0 {
		return time.Now().Add(limit)
	}
	dl, _ := ctx.Deadline()
	return dl
}

func failed(ctx context.Context, owner Releaser, err error) *redis.Cmd {
	if owner != nil {
		owner.Release()
	}
	cmd := redis.NewCmd(ctx)
	cmd.SetErr(err)
	return cmd
}

// A call's state: its worker and its caller race to settle it once.
const (
	running uint32 = iota
	finished
	abandoned
)

// call is one bounded call handed to a worker or a pipeline; pooled, with
// its channel and timer, so that a call allocates nothing of its own.
type call struct {
	ctx context.Context

	fn  func(context.Context) error // either fn,
	err error

	scripter redis.Scripter // or a script,
	script   *redis.Script
	keys     []string
	args     []any
	owner    Releaser
	command  []any // or a command (on client)
	cmd      *redis.Cmd
	merge    *Merge // a script call a pipeline may merge with others,
	inMerge  bool   // and whether this pipeline does,
	slot     int    // by the hash slot of its key (Cluster)

	client   redis.UniversalClient // pipelined calls: the client to pipeline on
	deadline time.Time             // and when the caller stops waiting (zero: never)
	pipe     *coalescer            // a call sent alone by a coalescer: its slot,
	hold     hold                  // freed when the caller gives up

	state atomic.Uint32
	done  chan struct{} // the worker's signal, when the caller still waits
	timer *time.Timer
}

var calls = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{done: make(chan struct{}, 1), timer: t}
}}

func getCall() *call {
	c := calls.Get().(*call)
	c.state.Store(running)
	return c
}

// recycle clears the references c holds and pools it.
func (c *call) recycle() {
	c.ctx, c.fn, c.err = nil, nil, nil
	c.scripter, c.script, c.keys, c.args, c.owner, c.cmd = nil, nil, nil, nil, nil, nil
	c.client, c.deadline, c.pipe, c.command = nil, time.Time{}, nil, nil
	c.merge, c.inMerge = nil, false
	calls.Put(c)
}

// await hands c to a worker and waits for it (see wait).
func (c *call) await(ctx context.Context, limit time.Duration) error {
	dispatch(job{c: c})
	return c.wait(ctx, limit)
}

// wait waits for c's worker, for ctx and for limit (0: ctx alone). On an
// error the caller has given up: whoever holds c recycles it.
func (c *call) wait(ctx context.Context, limit time.Duration) error {
	var expired <-chan time.Time
	if limit > 0 {
		c.timer.Reset(limit)
		expired = c.timer.C
	}
	var err error
	select {
	case <-c.done:
		c.timer.Stop()
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = context.DeadlineExceeded
	}
	c.timer.Stop()
	pipe, h := c.pipe, c.hold // c is not ours once abandoned
	if c.state.CompareAndSwap(running, abandoned) {
		if pipe != nil {
			pipe.abandon(h)
		}
		return err
	}
	<-c.done // it finished meanwhile: take the result after all
	return nil
}

// make makes the call on its own; finish then settles it.
func (c *call) make() {
	switch {
	case c.fn != nil:
		c.err = c.fn(c.ctx)
	case c.script != nil:
		c.cmd = c.script.Run(c.ctx, c.scripter, c.keys, c.args...)
	default:
		c.cmd = c.client.Do(c.ctx, c.command...)
	}
}

// finish releases c's owner, then either signals the waiting caller or,
// when the caller has given up, recycles c itself.
func (c *call) finish() {
	if c.owner != nil {
		c.owner.Release()
		c.owner = nil
	}
	if c.state.CompareAndSwap(running, finished) {
		c.done <- struct{}{}
		return
	}
	c.recycle()
}

// drop discards a call whose caller gave up before it was sent.
func (c *call) drop() {
	if c.owner != nil {
		c.owner.Release()
	}
	c.recycle()
}

// job is a worker's task: a call to make on its own, then, with pipe, the
// calls that queued on pipe meanwhile; or, with batch, a pipeline first.
type job struct {
	c     *call
	pipe  *coalescer
	hold  hold // the slot of pipe that c or batch goes out on
	batch []*call
}

func (j job) run() {
	if j.c == nil {
		j.pipe.drain(j.hold, j.batch)
		return
	}
	j.c.make()
	if j.pipe == nil {
		j.c.finish()
		return
	}
	// The slot is freed (or the queue taken) before the caller hears:
	// its next call then finds the slot free, rather than a worker on its
	// way out, which would cost it a new goroutine.
	batch := j.pipe.next(j.hold, nil)
	j.c.finish()
	j.pipe.drain(j.hold, batch)
}

// Workers run jobs. A worker with nothing to do waits for the next job
// for workerIdle, then exits, so a busy process reuses them (spawning a
// goroutine costs an allocation) and an idle one keeps none.
const workerIdle = 200 * time.Millisecond

var idle = make(chan job) // unbuffered: a send lands only on a parked worker

func dispatch(j job) {
	select {
	case idle <- j:
	default:
		go work(j)
	}
}

func work(j job) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		j.run()
		t.Reset(workerIdle)
		select {
		case j = <-idle:
		case <-t.C:
			return
		}
	}
}
