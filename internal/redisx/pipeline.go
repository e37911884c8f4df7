package redisx

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The coalescer's limits.
const (
	// maxOut is how many pipelines (or lone calls) of one client may be on
	// their way at once. Calls that find maxOut out wait in the queue and
	// leave together, in one pipeline, when one comes back. Two keeps the
	// server busy while the client reads one pipeline's replies and writes
	// the next.
	maxOut = 2
	// maxBatch caps one pipeline; a longer queue leaves in several.
	maxBatch = 256
	// maxQueue caps the calls waiting for a pipeline: past it, a call fails
	// with ErrOverloaded rather than growing the queue without bound while
	// Redis does not answer.
	maxQueue = 8192
)

// ErrOverloaded is returned, at once, for a call that finds maxQueue calls
// of its client already waiting for a pipeline: Redis has stopped keeping
// up (or answering), and queueing more would only grow memory.
var ErrOverloaded = errors.New("redisx: too many Redis calls waiting for a pipeline")

// coalescer pipelines the concurrent Evals of one client. A call that
// finds one of maxOut slots free goes straight out on its own; the others
// queue and leave together as the next pipeline when a slot frees. No
// timer: one goroutine's calls never wait for company.
//
// A slot whose callers have all given up is free again: a lone call's at
// once, a pipeline's when its most patient caller's deadline passes. So a
// call stuck on a hung connection (until the client's ReadTimeout) never
// holds up the calls that come after it; its worker, when it returns,
// finds the slot taken over and leaves the queue to the slot's new
// holder.
//
// A coalescer holds no reference to its client while idle (the queued
// calls do), so an unused client is collected and its entry dropped.
type coalescer struct {
	mu    sync.Mutex
	slots [maxOut]slot
	queue []*call // calls waiting for the next pipeline
	spare [][]*call

	// Counts, for tests and benchmarks.
	pipelines atomic.Int64 // pipelines sent
	piped     atomic.Int64 // calls that rode in one
}

// slot is one lone call or pipeline on its way.
type slot struct {
	busy  bool
	gen   uint64    // bumped at each claim: a holder whose gen is stale lost the slot
	until time.Time // when its last caller stops waiting (zero: never)
}

// hold names a claimed slot.
type hold struct {
	i   int
	gen uint64
}

// takeLocked claims a free slot, or one whose callers have all given up,
// for a flight whose callers wait until until; ok is false when none is.
func (p *coalescer) takeLocked(until time.Time) (h hold, ok bool) {
	i := -1
	for j := range p.slots {
		if !p.slots[j].busy {
			i = j
			break
		}
	}
	if i < 0 {
		now := time.Now()
		for j := range p.slots {
			if u := p.slots[j].until; !u.IsZero() && now.After(u) {
				i = j
				break
			}
		}
	}
	if i < 0 {
		return hold{}, false
	}
	s := &p.slots[i]
	s.busy, s.until = true, until
	s.gen++
	return hold{i, s.gen}, true
}

// claim takes a slot for a call its caller makes inline.
func (p *coalescer) claim(until time.Time) (hold, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.takeLocked(until)
}

// submit sends w: straight out on a worker when a slot is free, else into
// the queue for the next pipeline. It returns ErrOverloaded when the
// queue is full.
func (p *coalescer) submit(w *call) error {
	p.mu.Lock()
	if h, ok := p.takeLocked(w.deadline); ok {
		w.pipe, w.hold = p, h
		p.mu.Unlock()
		dispatch(job{c: w, pipe: p, hold: h})
		return nil
	}
	if len(p.queue) >= maxQueue {
		p.queue = p.pruneLocked(p.queue)
		if len(p.queue) >= maxQueue {
			p.mu.Unlock()
			return ErrOverloaded
		}
	}
	p.queue = append(p.queue, w)
	p.mu.Unlock()
	return nil
}

// abandon frees the slot of a lone call its caller gave up on, and sends
// the queue on it if anything waits.
func (p *coalescer) abandon(h hold) {
	p.mu.Lock()
	s := &p.slots[h.i]
	if !s.busy || s.gen != h.gen {
		p.mu.Unlock()
		return
	}
	s.busy = false
	s.gen++ // the stuck worker must not drain the queue on it
	if len(p.queue) == 0 {
		p.mu.Unlock()
		return
	}
	h, _ = p.takeLocked(time.Time{})
	batch := p.batchLocked(h, nil)
	p.mu.Unlock()
	dispatch(job{pipe: p, hold: h, batch: batch})
}

// finishAlone is called by a caller that ran its own call inline on h:
// the calls that queued meanwhile leave in a pipeline on a worker.
func (p *coalescer) finishAlone(h hold) {
	if batch := p.next(h, nil); batch != nil {
		dispatch(job{pipe: p, hold: h, batch: batch})
	}
}

// next takes the next batch for h from the queue, reusing done's storage.
// It returns nil, freeing the slot, when the queue is empty, and nil when
// h was taken over (its callers had given up): the new holder drains.
func (p *coalescer) next(h hold, done []*call) []*call {
	p.mu.Lock()
	defer p.mu.Unlock()
	if done != nil {
		clear(done[:cap(done)])
		p.spare = append(p.spare, done[:0])
	}
	s := &p.slots[h.i]
	if s.gen != h.gen {
		return nil
	}
	if len(p.queue) == 0 {
		s.busy = false
		return nil
	}
	return p.batchLocked(h, nil)
}

// batchLocked moves up to maxBatch calls from the queue to a batch on h,
// which lasts until its most patient caller's deadline.
func (p *coalescer) batchLocked(h hold, batch []*call) []*call {
	if n := len(p.spare); n > 0 && batch == nil {
		batch, p.spare = p.spare[n-1], p.spare[:n-1]
	}
	take := min(len(p.queue), maxBatch)
	var until time.Time
	for _, w := range p.queue[:take] {
		if w.deadline.IsZero() {
			until = time.Time{}
			break
		}
		if w.deadline.After(until) {
			until = w.deadline
		}
	}
	p.slots[h.i].until = until
	batch = append(batch, p.queue[:take]...)
	rest := copy(p.queue, p.queue[take:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	return batch
}

// pruneLocked drops the calls whose callers gave up before they left.
func (p *coalescer) pruneLocked(q []*call) []*call {
	kept := q[:0]
	for _, w := range q {
		if w.state.Load() == abandoned {
			w.drop()
			continue
		}
		kept = append(kept, w)
	}
	clear(q[len(kept):])
	return kept
}

// drain sends batch, then the batches that queued meanwhile, for as long
// as it holds h.
func (p *coalescer) drain(h hold, batch []*call) {
	for batch != nil {
		p.send(batch)
		batch = p.next(h, batch)
	}
}

// send makes one pipeline of batch's calls and settles each of them. A
// script Redis has forgotten (SCRIPT FLUSH, a restart, a Cluster node that
// never saw it) fails with NOSCRIPT in its own slot only: those calls go
// again, as EVAL, in a second pipeline, which also loads the script on
// whichever node each one lands on.
func (p *coalescer) send(batch []*call) {
	live := batch[:0] // the batch is ours: filter it in place
	var deadline time.Time
	unbounded := false
	for _, w := range batch {
		if w.state.Load() == abandoned {
			w.drop()
			continue
		}
		live = append(live, w)
		if w.deadline.IsZero() {
			unbounded = true
		} else if w.deadline.After(deadline) {
			deadline = w.deadline
		}
	}
	if len(live) == 0 {
		return
	}
	// The pipeline lasts as long as its most patient caller waits; each
	// caller stops waiting at its own bound.
	ctx := context.Background()
	if !unbounded {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	client := live[0].client
	_, cluster := client.(*redis.ClusterClient)
	groups := groupMerged(live, cluster)
	pipe := client.Pipeline()
	for _, g := range groups {
		g.cmd = pipe.EvalSha(ctx, g.m.Script.Hash(), g.keys, g.args...)
	}
	for _, w := range live {
		switch {
		case w.inMerge:
		case w.script == nil:
			w.cmd = pipe.Do(ctx, w.command...)
		default:
			w.cmd = pipe.EvalSha(ctx, w.script.Hash(), w.keys, w.args...)
		}
	}
	_, _ = pipe.Exec(ctx)
	p.pipelines.Add(1)
	p.piped.Add(int64(len(live)))

	var retry redis.Pipeliner
	for _, g := range groups {
		if noScript(g.cmd.Err()) {
			if retry == nil {
				retry = client.Pipeline()
			}
			g.cmd = g.m.Script.Eval(ctx, retry, g.keys, g.args...)
		}
	}
	for _, w := range live {
		if !w.inMerge && w.script != nil && noScript(w.cmd.Err()) {
			if retry == nil {
				retry = client.Pipeline()
			}
			w.cmd = w.script.Eval(ctx, retry, w.keys, w.args...)
		}
	}
	if retry != nil {
		_, _ = retry.Exec(ctx)
		p.pipelines.Add(1)
	}
	for _, g := range groups {
		g.split(ctx)
	}
	for _, w := range live {
		if err := w.cmd.Err(); err != nil {
			w.cmd.SetErr(settleBy(w.ctx, w.deadline, err))
		}
		w.finish()
	}
}

// Pipelining reports whether the bound pipelines concurrent Evals.
func (b Bound) Pipelining() bool { return b.pipe != nil }

// WithoutPipelining returns b sending every call on its own, one round
// trip each, as a client without a coalescer would.
func (b Bound) WithoutPipelining() Bound {
	b.pipe = nil
	return b
}

// PipelineStats reports how many pipelines the bounds on c have sent and
// how many calls rode in them, for tests and benchmarks (0, 0 for a
// client that is not pipelined).
func PipelineStats(c redis.UniversalClient) (pipelines, calls int64) {
	p := coalescerFor(c)
	if p == nil {
		return 0, 0
	}
	return p.pipelines.Load(), p.piped.Load()
}

// noScript reports whether err is Redis's NOSCRIPT (a script the node
// does not have). go-redis's HasErrorPrefix allocates even for a nil
// error, so nil is tested first: one allocation less per pipelined call.
func noScript(err error) bool {
	return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT")
}
