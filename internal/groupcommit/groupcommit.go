// Package groupcommit merges the calls that concurrent callers make
// through one value into batch calls (group commit), for the Redis
// packages whose script can serve many callers in one call: a batch shares
// the script's fixed work and its round trip (queue's Enqueue, Dequeue and
// Next; cqrs's Append).
//
// It is adaptive, like the pipelining under it: a call that finds fewer
// than MaxOut of the batcher's calls in flight goes straight out on its
// own, so a lone caller waits for no company and no timer; the others
// queue, and the queue leaves as one batch when a call in flight comes
// back. There is no waiting window.
//
// Each queued caller still waits on its own bound (its ctx, or Timeout,
// whichever ends sooner). One that gives up before its batch leaves is
// dropped from it; one that gives up while the batch is out has an
// unknown outcome, as any timed-out call. A batch runs under a ctx that
// ends with its most patient caller's deadline; a batch whose call fails
// fails every item in it (a *BatchError), with an unknown outcome.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Config describes a Batcher.
type Config[I, R any] struct {
	// Run makes one call for items and sets res[i] for each (len(res) ==
	// len(items)); its error is the call's, for every item. Required.
	// A lone call runs under its caller's ctx, a batch under one of its
	// own (see the package doc).
	Run func(ctx context.Context, items []I, res []R) error
	// MaxOut is how many calls may be in flight before calls queue
	// (at least 1).
	MaxOut int
	// HoldWhenContended: once calls have queued, only a call that finds
	// none in flight goes out alone, until a lone call comes back to an
	// empty queue; so a deep queue leaves as one large batch rather than
	// several small ones, and MaxOut lone calls side by side happen only
	// while the batcher is not contended.
	HoldWhenContended bool
	// MaxItems caps the items of one batch (at least 1).
	MaxItems int
	// MaxBytes caps the sum of Size over one batch; 0: no cap. A caller's
	// item always fits, however large.
	MaxBytes int
	// Size is an item's bytes for MaxBytes; nil: every item counts 1.
	Size func(I) int
	// MaxQueue caps the calls waiting for a batch: past it a call fails
	// at once with ErrFull, so a server that stopped answering cannot
	// grow the queue without bound. 0: DefaultMaxQueue.
	MaxQueue int
	// Timeout bounds every queued call besides its ctx (required, > 0).
	Timeout time.Duration
}

// DefaultMaxQueue is MaxQueue when the Config leaves it 0.
const DefaultMaxQueue = 8192

// ErrFull is the error of a call refused because MaxQueue calls are
// waiting for a batch already.
var ErrFull = errors.New("too many calls waiting for Redis")

// ErrInvalidConfig is the error of New with a Config it cannot use.
var ErrInvalidConfig = errors.New("groupcommit: invalid config")

// BatchError is the error of every item of a batch whose call failed. Its
// text is the call's error's, so a caller that wraps it reads as if the
// item had gone alone; Size tells a caller that wants to say so.
type BatchError struct {
	Size int   // items in the batch
	Err  error // the call's error
}

func (e *BatchError) Error() string { return e.Err.Error() }
func (e *BatchError) Unwrap() error { return e.Err }

// Batcher runs calls alone or in batches (see the package doc). It is safe
// for concurrent use; it holds no goroutine while no call is in flight.
type Batcher[I, R any] struct {
	cfg Config[I, R]

	mu    sync.Mutex
	out   int // calls in flight
	queue []*waiter[I, R]
	// contended (HoldWhenContended): calls have queued since a lone call
	// last came back to an empty queue.
	contended bool

	batched atomic.Uint64 // items sent in batches, not alone
	pool    waiterPool[I, R]
}

// New returns a Batcher for c; errors wrap ErrInvalidConfig.
func New[I, R any](c Config[I, R]) (*Batcher[I, R], error) {
	switch {
	case c.Run == nil:
		return nil, fmt.Errorf("%w: nil Run", ErrInvalidConfig)
	case c.MaxOut < 1:
		return nil, fmt.Errorf("%w: MaxOut %d, want at least 1", ErrInvalidConfig, c.MaxOut)
	case c.MaxItems < 1:
		return nil, fmt.Errorf("%w: MaxItems %d, want at least 1", ErrInvalidConfig, c.MaxItems)
	case c.MaxBytes < 0:
		return nil, fmt.Errorf("%w: negative MaxBytes %d", ErrInvalidConfig, c.MaxBytes)
	case c.MaxQueue < 0:
		return nil, fmt.Errorf("%w: negative MaxQueue %d", ErrInvalidConfig, c.MaxQueue)
	case c.Timeout <= 0:
		return nil, fmt.Errorf("%w: Timeout %v, want more than 0", ErrInvalidConfig, c.Timeout)
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.Size == nil {
		c.Size = func(I) int { return 1 }
	}
	return &Batcher[I, R]{cfg: c}, nil
}

// Batched is how many items went out in batches rather than alone.
func (b *Batcher[I, R]) Batched() uint64 { return b.batched.Load() }

// Out is how many of the batcher's calls are in flight.
func (b *Batcher[I, R]) Out() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out
}

// Queued is how many calls are waiting for a batch (some may have given
// up: they leave the queue when the next batch is made).
func (b *Batcher[I, R]) Queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Do runs item alone or in a batch and returns its result. The error is
// the lone call's, a *BatchError for a batch's, ErrFull (MaxQueue callers
// still waiting), or the caller's ctx error (context.DeadlineExceeded at
// Timeout) when it gave up waiting before its answer came; an answer that
// came as it gave up is returned.
func (b *Batcher[I, R]) Do(ctx context.Context, item I) (R, error) {
	b.mu.Lock()
	held := b.cfg.HoldWhenContended && b.contended
	if len(b.queue) == 0 && b.out < b.cfg.MaxOut && (b.out == 0 || !held) {
		b.out++
		b.mu.Unlock()
		var res [1]R
		err := b.cfg.Run(ctx, []I{item}, res[:])
		if next := b.finish(true); next != nil {
			go b.drain(next)
		}
		return res[0], err
	}
	var zero R
	if len(b.queue) >= b.cfg.MaxQueue && b.prune(time.Now()) >= b.cfg.MaxQueue {
		b.mu.Unlock()
		return zero, ErrFull
	}
	deadline := time.Now().Add(b.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	w := b.pool.get(item, deadline)
	b.queue = append(b.queue, w)
	b.mu.Unlock()

	w.timer.Reset(time.Until(deadline))
	var gaveUp error
	select {
	case <-w.done:
	case <-ctx.Done():
		gaveUp = ctx.Err()
	case <-w.timer.C:
		gaveUp = context.DeadlineExceeded
	}
	w.timer.Stop()
	if gaveUp != nil {
		if w.leave() {
			return zero, gaveUp // the batcher pools w
		}
		// Answered as the caller gave up: the answer is the outcome (a
		// lease taken, an append that landed), not an unknown one. The
		// batcher sent on done right after answering: no wait.
		<-w.done
	}
	res, err := w.res, w.err
	b.pool.put(w)
	return res, err
}

// finish ends a call (lone: an item sent alone): it returns the next
// batch to send (the caller keeps the call's slot for it) or nil.
func (b *Batcher[I, R]) finish(lone bool) []*waiter[I, R] {
	b.mu.Lock()
	defer b.mu.Unlock()
	var now time.Time
	if len(b.queue) > 0 {
		now = time.Now()
	}
	var batch []*waiter[I, R]
	bytes, taken := 0, 0
	for _, w := range b.queue {
		size := 0
		if b.cfg.MaxBytes > 0 {
			size = b.cfg.Size(w.item)
		}
		if len(batch) == b.cfg.MaxItems || (b.cfg.MaxBytes > 0 && len(batch) > 0 && bytes+size > b.cfg.MaxBytes) {
			break
		}
		taken++
		if b.dropGone(w, now) {
			continue
		}
		batch = append(batch, w)
		bytes += size
	}
	n := copy(b.queue, b.queue[taken:])
	clear(b.queue[n:])
	b.queue = b.queue[:n]
	switch {
	case len(batch) > 0:
		b.contended = true
	case taken == 0 && lone:
		// A batch's callers come back together, right after it: only a
		// lone call that finds no one waiting shows the rush is over.
		b.contended = false
	}
	if len(batch) == 0 {
		b.out--
	}
	return batch
}

// dropGone settles w, never sent, if its caller left or its bound has
// passed (the caller is about to notice), and reports whether it did.
// b.mu is held.
func (b *Batcher[I, R]) dropGone(w *waiter[I, R], now time.Time) bool {
	if now.Before(w.deadline) && w.state.Load() != abandoned {
		return false
	}
	var zero R
	b.pool.settle(w, zero, context.DeadlineExceeded) // pools w if its caller left
	return true
}

// prune drops the queued calls whose callers are gone (see dropGone), so
// that they do not count against MaxQueue, and returns how many are
// left. b.mu is held.
func (b *Batcher[I, R]) prune(now time.Time) int {
	n := 0
	for _, w := range b.queue {
		if !b.dropGone(w, now) {
			b.queue[n] = w
			n++
		}
	}
	clear(b.queue[n:])
	b.queue = b.queue[:n]
	return n
}

// drain sends batches until the queue is empty.
func (b *Batcher[I, R]) drain(batch []*waiter[I, R]) {
	for batch != nil {
		b.send(batch)
		batch = b.finish(false)
	}
}

// send runs one batch and hands each caller its result.
func (b *Batcher[I, R]) send(batch []*waiter[I, R]) {
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
	err := b.cfg.Run(ctx, items, res)
	cancel()
	b.batched.Add(uint64(len(batch)))
	if err != nil {
		err = &BatchError{Size: len(batch), Err: err}
	}
	for i, w := range batch {
		b.pool.settle(w, res[i], err)
	}
}
