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
// until owner (which may be nil) is released: a call given up on at its
// deadline still reads them until go-redis is done. On a client that does
// not honour ctx deadlines, Eval allocates nothing beyond what go-redis
// does.
func (b Bound) Eval(ctx context.Context, c redis.Scripter, script *redis.Script, keys []string, args []any, owner Releaser) *redis.Cmd {
	if err := ctx.Err(); err != nil {
		return failed(ctx, owner, err)
	}
	limit := b.limit(ctx)
	if b.deadlines || (limit == 0 && ctx.Done() == nil) {
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
	w := getCall()
	w.ctx, w.scripter, w.script, w.keys, w.args, w.owner = ctx, c, script, keys, args, owner
	if err := w.await(ctx, limit); err != nil {
		return failed(ctx, nil, err)
	}
	cmd := w.cmd
	w.recycle()
	return cmd
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

// call is one bounded call handed to a worker; pooled, with its channel
// and timer, so that a call allocates nothing of its own.
type call struct {
	ctx context.Context

	fn  func(context.Context) error // either fn,
	err error

	scripter redis.Scripter // or a script
	script   *redis.Script
	keys     []string
	args     []any
	owner    Releaser
	cmd      *redis.Cmd

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
	calls.Put(c)
}

// await hands c to a worker and waits for it, for ctx and for limit (0:
// ctx alone). On an error the caller has given up: the worker recycles c.
func (c *call) await(ctx context.Context, limit time.Duration) error {
	dispatch(c)
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
	if c.state.CompareAndSwap(running, abandoned) {
		return err
	}
	<-c.done // it finished meanwhile: take the result after all
	return nil
}

// run makes the call, then either signals the waiting caller or, when the
// caller has given up, recycles c itself.
func (c *call) run() {
	if c.fn != nil {
		c.err = c.fn(c.ctx)
	} else {
		c.cmd = c.script.Run(c.ctx, c.scripter, c.keys, c.args...)
	}
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

// Workers run calls. A worker with nothing to do waits for the next call
// for workerIdle, then exits, so a busy process reuses them (spawning a
// goroutine costs an allocation) and an idle one keeps none.
const workerIdle = 200 * time.Millisecond

var idle = make(chan *call) // unbuffered: a send lands only on a parked worker

func dispatch(c *call) {
	select {
	case idle <- c:
	default:
		go work(c)
	}
}

func work(c *call) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		c.run()
		t.Reset(workerIdle)
		select {
		case c = <-idle:
		case <-t.C:
			return
		}
	}
}
