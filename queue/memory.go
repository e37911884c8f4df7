package queue

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// memoryName is Event.Queue for a Memory.
const memoryName = "memory"

// maxHorizon bounds how far ahead a job may be scheduled, so that due
// times stay exact in every backend's arithmetic (Redis Lua numbers are
// doubles: microseconds are exact up to about the year 2255).
const maxHorizon = 100 * 365 * 24 * time.Hour

// Memory is a Queue in one process: for tests, and for services that can
// lose queued work on a restart. Its leases never expire (the only
// consumer that could die takes the queue with it); Close releases them.
// It starts no goroutines. Safe for concurrent use.
type Memory struct {
	cfg   config
	emit  emitter
	stats counters

	mu       sync.Mutex
	jobs     map[string]*item
	ready    itemHeap // due, by aged score
	sched    itemHeap // not yet due, by due time
	leased   int
	waiters  waitlist
	seq      uint64
	leaseSeq uint64
	closed   bool
}

// NewMemory returns an empty in-memory queue.
func NewMemory(opts ...MemoryOption) (*Memory, error) {
	cfg, err := applyMemory(opts)
	if err != nil {
		return nil, err
	}
	return &Memory{
		cfg: cfg, emit: emitter{observer: cfg.observer, logger: cfg.logger},
		jobs:  make(map[string]*item),
		ready: itemHeap{less: byScore}, sched: itemHeap{less: byDue},
	}, nil
}

// dueAt resolves a requested due time: zero or past means now (a job's
// wait, which aging rewards, starts when it is queued, not at a RunAt in
// the past).
func dueAt(at, now time.Time) (time.Time, error) {
	if at.IsZero() || at.Before(now) {
		return now, nil
	}
	if at.Sub(now) > maxHorizon {
		return time.Time{}, fmt.Errorf("%w: due time %s is more than 100 years ahead", ErrInvalidJob, at.Format(time.RFC3339))
	}
	return at, nil
}

// Enqueue implements Queue.
func (q *Memory) Enqueue(ctx context.Context, j Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := j.validate()
	if err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	if _, dup := q.jobs[j.ID]; dup {
		return fmt.Errorf("%w: %q", ErrDuplicate, j.ID)
	}
	now := q.cfg.now()
	due, err := dueAt(j.RunAt, now)
	if err != nil {
		return err
	}
	j.Priority = p
	j.Payload = append([]byte(nil), j.Payload...) // the caller may reuse its slice
	q.seq++
	it := &item{job: j, seq: q.seq, attempt: 1, enqueuedAt: now, index: -1}
	q.jobs[j.ID] = it
	q.queue(it, due, now)
	q.stats.enqueued.Add(1)
	return nil
}

// queue puts it in the ready or the scheduled heap and wakes one waiter,
// which takes it or recomputes its timer. q.mu is held.
func (q *Memory) queue(it *item, due, now time.Time) {
	it.due, it.job.RunAt, it.lease = due, due, ""
	if due.After(now) {
		q.sched.push(it)
	} else {
		it.score = agedScore(due, it.job.Priority, q.cfg.aging)
		q.ready.push(it)
	}
	q.waiters.wakeOne(true)
}

// promote moves the scheduled jobs that are due by now to ready. q.mu is
// held.
func (q *Memory) promote(now time.Time) {
	for q.sched.Len() > 0 && !q.sched.peek().due.After(now) {
		it := q.sched.pop()
		it.score = agedScore(it.due, it.job.Priority, q.cfg.aging)
		q.ready.push(it)
	}
}

// Dequeue implements Queue. It waits for a wake-up (each Enqueue, Retry
// and Defer wakes one waiting Dequeue, Close all of them) and on a timer set to the next due time
// (by the configured clock) capped by the poll interval.
func (q *Memory) Dequeue(ctx context.Context) (*Delivery, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return nil, ErrClosed
		}
		now := q.cfg.now()
		q.promote(now)
		if q.ready.Len() > 0 {
			d := q.lease(q.ready.pop())
			q.mu.Unlock()
			q.stats.deliveredOne(d.Priority)
			return d, nil
		}
		wait := q.cfg.poll
		if q.sched.Len() > 0 {
			wait = min(wait, q.sched.peek().due.Sub(now))
		}
		wake := q.waiters.add()
		q.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-wake:
			timer.Stop()
		case <-timer.C:
			q.waiters.remove(wake)
		case <-ctx.Done():
			timer.Stop()
			q.waiters.remove(wake)
			return nil, ctx.Err()
		}
	}
}

// lease hands it out. q.mu is held.
func (q *Memory) lease(it *item) *Delivery {
	q.leaseSeq++
	it.lease = strconv.FormatUint(q.leaseSeq, 36)
	q.leased++
	j := it.job
	return &Delivery{Job: j, Attempt: it.attempt, EnqueuedAt: it.enqueuedAt, lease: it.lease}
}

// held returns the item d leases. q.mu is held.
func (q *Memory) held(d *Delivery) (*item, error) {
	if q.closed {
		return nil, ErrClosed
	}
	it := q.jobs[d.ID]
	if it == nil || it.lease != d.lease {
		q.stats.leaseLost.Add(1)
		return nil, fmt.Errorf("%w: %q", ErrLeaseLost, d.ID)
	}
	return it, nil
}

// Ack implements Queue.
func (q *Memory) Ack(ctx context.Context, d *Delivery) error {
	if err := checkDelivery(d); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it, err := q.held(d)
	if err != nil {
		return err
	}
	delete(q.jobs, it.job.ID)
	q.leased--
	q.stats.acked.Add(1)
	return nil
}

// Next implements Queue: Ack, then Dequeue.
func (q *Memory) Next(ctx context.Context, done *Delivery) (*Delivery, error) {
	if done != nil {
		if err := q.Ack(context.WithoutCancel(ctx), done); err != nil {
			return nil, err
		}
	}
	return q.Dequeue(ctx)
}

// Retry implements Queue.
func (q *Memory) Retry(ctx context.Context, d *Delivery, at time.Time) error {
	return q.requeue(d, at, 1)
}

// Defer implements Queue.
func (q *Memory) Defer(ctx context.Context, d *Delivery, at time.Time) error {
	return q.requeue(d, at, 0)
}

func (q *Memory) requeue(d *Delivery, at time.Time, counted int) error {
	if err := checkDelivery(d); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it, err := q.held(d)
	if err != nil {
		return err
	}
	now := q.cfg.now()
	due, err := dueAt(at, now)
	if err != nil {
		return err
	}
	q.leased--
	it.attempt = d.Attempt + counted
	q.queue(it, due, now)
	if counted > 0 {
		q.stats.retried.Add(1)
	} else {
		q.stats.deferred.Add(1)
	}
	return nil
}

// Cancel implements Queue.
func (q *Memory) Cancel(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return ErrClosed
	}
	it := q.jobs[id]
	switch {
	case it == nil:
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	case it.lease != "":
		return fmt.Errorf("%w: %q", ErrLeased, id)
	}
	q.ready.remove(it)
	q.sched.remove(it)
	delete(q.jobs, id)
	q.stats.cancelled.Add(1)
	return nil
}

// Len implements Queue; it never fails.
func (q *Memory) Len(ctx context.Context) (ready, scheduled, leased int64, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.promote(q.cfg.now())
	return int64(q.ready.Len()), int64(q.sched.Len()), int64(q.leased), nil
}

// Stats implements Queue.
func (q *Memory) Stats() Stats { return q.stats.snapshot() }

// Close implements Queue: blocked Dequeues return ErrClosed, and every
// call after it too. The jobs held by consumers go back to the ready set
// (Len shows them), where no one in this process can take them any more:
// a Memory's jobs die with it. Close is idempotent.
func (q *Memory) Close() error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return nil
	}
	q.closed = true
	now := q.cfg.now()
	var released []Event
	for _, it := range q.jobs {
		if it.lease == "" {
			continue
		}
		it.lease = ""
		it.score = agedScore(it.due, it.job.Priority, q.cfg.aging)
		q.ready.push(it)
		q.leased--
		released = append(released, Event{Kind: Released, Queue: memoryName, JobID: it.job.ID, Attempt: it.attempt, At: now})
	}
	q.waiters.wakeAll()
	q.mu.Unlock()
	for _, ev := range released {
		q.stats.released.Add(1)
		q.emit.emit(ev)
	}
	return nil
}
