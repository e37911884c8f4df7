package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// enqueueGroup merges the Enqueues that concurrent callers make on one
// Redis queue into batch script calls (group commit): one EVALSHA for many
// jobs shares the script's fixed work (the clock, the sequence counter,
// one HSET and one ZADD for all) and its round trip. It is adaptive, like
// the pipelining under it: an Enqueue that finds fewer than enqMaxOut of
// the queue's enqueue calls in flight goes straight out on its own, so a
// lone producer waits for no company and no timer; the others queue, and
// the queue leaves as one batch when a call in flight comes back.
//
// Each queued caller still waits on its own bound (its ctx deadline or
// WithTimeout, whichever is sooner). One that gives up before its batch
// leaves is dropped from it; one that gives up while the batch is out has
// an unknown outcome, as any timed-out Enqueue (enqueue again: ErrDuplicate
// says it landed). The batch runs under a ctx that ends with its most
// patient caller's deadline; a batch whose call fails fails every Enqueue
// in it, with an unknown outcome.
type enqueueGroup struct {
	mu    sync.Mutex
	out   int // the group's script calls in flight
	queue []*queuedEnqueue

	batched atomic.Uint64 // jobs sent in batches (for tests)
}

const (
	// enqMaxOut is how many enqueue calls of one queue may be in flight
	// before Enqueues queue for a batch: three, so that a batch is on the
	// server while another's reply is read, and the third rides the redisx
	// pipeline of the two.
	enqMaxOut = 3
	// enqMaxItems and enqMaxBytes cap one batch (a caller's job always
	// fits, however large), so one script never runs long.
	enqMaxItems = 128
	enqMaxBytes = 1 << 20
	// enqMaxQueue caps the Enqueues waiting for a batch: past it an
	// Enqueue fails at once, so a Redis that stopped answering cannot
	// grow the queue without bound.
	enqMaxQueue = 8192
)

// errTooManyWaiting is the error of an Enqueue refused because
// enqMaxQueue Enqueues are waiting for Redis already.
var errTooManyWaiting = errors.New("too many Enqueues waiting for Redis")

// enqueueItem is a checked job, ready for the enqueue script.
type enqueueItem struct {
	id      string
	payload []byte
	prio    Priority
	due     string // the script's run_at_us: empty for now
}

type queuedEnqueue struct {
	item     enqueueItem
	deadline time.Time
	gone     atomic.Bool   // the caller stopped waiting
	done     chan struct{} // closed once err is set
	err      error
}

// enqueue runs item alone or in a batch.
func (g *enqueueGroup) enqueue(ctx context.Context, q *Redis, item enqueueItem) error {
	g.mu.Lock()
	if g.out < enqMaxOut && len(g.queue) == 0 {
		g.out++
		g.mu.Unlock()
		errs := []error{nil}
		err := q.enqueueBatch(ctx, []enqueueItem{item}, errs)
		if next := g.finish(); next != nil {
			go g.run(q, next)
		}
		if err != nil {
			return fmt.Errorf("queue: enqueue %q: %w", item.id, err)
		}
		return errs[0]
	}
	if len(g.queue) >= enqMaxQueue {
		g.mu.Unlock()
		return fmt.Errorf("queue: enqueue %q: %w", item.id, errTooManyWaiting)
	}
	deadline := time.Now().Add(q.cfg.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	w := &queuedEnqueue{item: item, deadline: deadline, done: make(chan struct{})}
	g.queue = append(g.queue, w)
	g.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var gaveUp error
	select {
	case <-w.done:
		return w.err
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-timer.C:
		gaveUp = context.DeadlineExceeded
	}
	w.gone.Store(true)
	return fmt.Errorf("queue: enqueue %q: %w", item.id, gaveUp)
}

// finish ends a script call of the group: it returns the next batch to
// send (the caller keeps the call's slot for it) or nil.
func (g *enqueueGroup) finish() []*queuedEnqueue {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := time.Now()
	var batch []*queuedEnqueue
	bytes, taken := 0, 0
	for _, w := range g.queue {
		size := len(w.item.payload) + len(w.item.id)
		if len(batch) == enqMaxItems || (len(batch) > 0 && bytes+size > enqMaxBytes) {
			break
		}
		taken++
		if w.gone.Load() || !now.Before(w.deadline) {
			continue // its caller gave up: never sent
		}
		batch = append(batch, w)
		bytes += size
	}
	n := copy(g.queue, g.queue[taken:])
	clear(g.queue[n:])
	g.queue = g.queue[:n]
	if len(batch) == 0 {
		g.out--
	}
	return batch
}

// run sends batches until the queue is empty.
func (g *enqueueGroup) run(q *Redis, batch []*queuedEnqueue) {
	for batch != nil {
		g.send(q, batch)
		batch = g.finish()
	}
}

// send runs one batch and hands each caller its answer.
func (g *enqueueGroup) send(q *Redis, batch []*queuedEnqueue) {
	deadline := batch[0].deadline
	items := make([]enqueueItem, len(batch))
	for i, w := range batch {
		items[i] = w.item
		if w.deadline.After(deadline) {
			deadline = w.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	errs := make([]error, len(batch))
	err := q.enqueueBatch(ctx, items, errs)
	cancel()
	g.batched.Add(uint64(len(batch)))
	for i, w := range batch {
		if err != nil {
			w.err = fmt.Errorf("queue: enqueue %q (in a batch of %d): %w", w.item.id, len(batch), err)
		} else {
			w.err = errs[i]
		}
		close(w.done)
	}
}
