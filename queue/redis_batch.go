package queue

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// batcher merges the calls that concurrent callers make on one Redis
// queue into batch script calls (group commit): one EVALSHA for many
// Enqueues, or for many Dequeues and Nexts, shares the script's fixed work
// (the clock, the sequence counter, the reclaim and schedule scans, one
// command for all where Redis has one) and its round trip. It is adaptive,
// like the pipelining under it: a call that finds fewer than maxOut of the
// batcher's script calls in flight goes straight out on its own, so a lone
// caller waits for no company and no timer; the others queue, and the
// queue leaves as one batch when a call in flight comes back.
//
// Each queued caller still waits on its own bound (its ctx deadline or
// WithTimeout, whichever is sooner). One that gives up before its batch
// leaves is dropped from it; one that gives up while the batch is out has
// an unknown outcome, as any timed-out call. The batch runs under a ctx
// that ends with its most patient caller's deadline; a batch whose call
// fails fails every call in it, with an unknown outcome.
type batcher[I, R any] struct {
	maxOut   int                                   // script calls in flight before calls queue
	maxItems int                                   // items in one batch
	maxBytes int                                   // bytes in one batch (a caller's item always fits)
	size     func(I) int                           // an item's bytes
	timeout  time.Duration                         // WithTimeout
	run      func(context.Context, []I, []R) error // one script call; sets each item's R

	mu    sync.Mutex
	out   int // script calls in flight
	queue []*waiting[I, R]

	batched atomic.Uint64 // items sent in batches, not alone (for tests)
}

// batchMaxQueue caps the calls waiting for a batch: past it a call fails
// at once, so a Redis that stopped answering cannot grow the queue
// without bound.
const batchMaxQueue = 8192

// errTooManyWaiting is the error of a call refused because batchMaxQueue
// calls are waiting for Redis already.
var errTooManyWaiting = errors.New("too many calls waiting for Redis")

type waiting[I, R any] struct {
	item     I
	deadline time.Time
	gone     atomic.Bool   // the caller stopped waiting
	done     chan struct{} // closed once res and err are set
	res      R
	err      error
}

// do runs item alone or in a batch: its result, or the error of the call
// that carried it (or of the caller's bound).
func (b *batcher[I, R]) do(ctx context.Context, item I) (R, error) {
	b.mu.Lock()
	if b.out < b.maxOut && len(b.queue) == 0 {
		b.out++
		b.mu.Unlock()
		res := make([]R, 1)
		err := b.run(ctx, []I{item}, res)
		if next := b.finish(); next != nil {
			go b.drain(next)
		}
		return res[0], err
	}
	var zero R
	if len(b.queue) >= batchMaxQueue {
		b.mu.Unlock()
		return zero, errTooManyWaiting
	}
	deadline := time.Now().Add(b.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	w := &waiting[I, R]{item: item, deadline: deadline, done: make(chan struct{})}
	b.queue = append(b.queue, w)
	b.mu.Unlock()

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var gaveUp error
	select {
	case <-w.done:
		return w.res, w.err
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-timer.C:
		gaveUp = context.DeadlineExceeded
	}
	w.gone.Store(true)
	return zero, gaveUp
}

// finish ends a script call: it returns the next batch to send (the
// caller keeps the call's slot for it) or nil.
func (b *batcher[I, R]) finish() []*waiting[I, R] {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	var batch []*waiting[I, R]
	bytes, taken := 0, 0
	for _, w := range b.queue {
		size := b.size(w.item)
		if len(batch) == b.maxItems || (len(batch) > 0 && bytes+size > b.maxBytes) {
			break
		}
		taken++
		if w.gone.Load() || !now.Before(w.deadline) {
			continue // its caller gave up: never sent
		}
		batch = append(batch, w)
		bytes += size
	}
	n := copy(b.queue, b.queue[taken:])
	clear(b.queue[n:])
	b.queue = b.queue[:n]
	if len(batch) == 0 {
		b.out--
	}
	return batch
}

// drain sends batches until the queue is empty.
func (b *batcher[I, R]) drain(batch []*waiting[I, R]) {
	for batch != nil {
		b.send(batch)
		batch = b.finish()
	}
}

// send runs one batch and hands each caller its result.
func (b *batcher[I, R]) send(batch []*waiting[I, R]) {
	deadline := batch[0].deadline
	items := make([]I, len(batch))
	for i, w := range batch {
		items[i] = w.item
		if w.deadline.After(deadline) {
			deadline = w.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	res := make([]R, len(batch))
	err := b.run(ctx, items, res)
	cancel()
	b.batched.Add(uint64(len(batch)))
	for i, w := range batch {
		w.res, w.err = res[i], err
		close(w.done)
	}
}
