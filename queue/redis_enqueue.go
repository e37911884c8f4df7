package queue

import (
	"context"
	"fmt"

	"github.com/sysdesign/patterns/internal/groupcommit"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Limits of one enqueue batch, so one script never runs long.
const (
	enqMaxOut   = 3 // a batch on the server while another's reply is read, a third riding their pipeline
	enqMaxItems = 128
	enqMaxBytes = 1 << 20
)

// enqueueItem is a checked job, ready for the enqueue script.
type enqueueItem struct {
	id      string
	payload []byte
	prio    Priority
	due     string // the script's run_at_us: empty for now
}

// newEnqueueBatcher merges concurrent Enqueues into enqueue script calls
// (see groupcommit): one call for many shares the script's fixed work
// (the clock, the sequence counter, the schedule scan) and its round trip.
func newEnqueueBatcher(q *Redis) (*groupcommit.Batcher[enqueueItem, error], error) {
	return groupcommit.New(groupcommit.Config[enqueueItem, error]{
		MaxOut: enqMaxOut, MaxItems: enqMaxItems, MaxBytes: enqMaxBytes, Timeout: q.cfg.timeout,
		Size: func(it enqueueItem) int { return len(it.id) + len(it.payload) },
		Run:  q.enqueueBatch,
	})
}

// Enqueue implements Queue. A call that timed out has an unknown outcome:
// enqueue again, and ErrDuplicate tells you it had landed. Concurrent
// Enqueues on one value go to Redis together, as one script call (see
// groupcommit), unless WithoutPipelining was given.
func (q *Redis) Enqueue(ctx context.Context, j Job) error {
	p, err := j.validate()
	if err != nil {
		return err
	}
	if q.closed.Load() {
		return ErrClosed
	}
	due, err := q.dueArg(j.RunAt)
	if err != nil {
		return err
	}
	item := enqueueItem{id: j.ID, payload: j.Payload, prio: p, due: due}
	var dup error
	if q.cfg.unpipelined {
		errs := []error{nil}
		err, dup = q.enqueueBatch(ctx, []enqueueItem{item}, errs), errs[0]
	} else {
		dup, err = q.enqueues.Do(ctx, item)
	}
	if err != nil {
		return fmt.Errorf("queue: enqueue %q: %w", j.ID, err)
	}
	return dup
}

// enqueueBatch runs the enqueue script for items and sets errs[i] to nil
// or ErrDuplicate for each; the error is the call's, for all of them.
func (q *Redis) enqueueBatch(ctx context.Context, items []enqueueItem, errs []error) error {
	return q.runEnqueue(ctx, items, q.enqueueArgs(items), errs)
}

// enqueueArgs are the enqueue script's arguments for items, each with a
// nonce of its own (so that a second run of the call acts once).
func (q *Redis) enqueueArgs(items []enqueueItem) []any {
	args := make([]any, 4, 4+5*len(items))
	args[0], args[1], args[2], args[3] = q.agingArg(), q.clockArg(), wakeTTLArg, q.passOnArg()
	for _, it := range items {
		args = append(args, it.id, it.payload, int(it.prio), it.due, newToken())
	}
	return args
}

// runEnqueue runs the enqueue script with args (enqueueArgs of items).
func (q *Redis) runEnqueue(ctx context.Context, items []enqueueItem, args []any, errs []error) error {
	k := q.k
	answers, err := q.bound.Eval(ctx, q.c, enqueueScript, []string{k.ready, k.sched, k.jobs, k.seq, k.wake}, args, nil).Int64Slice()
	if err != nil {
		return err
	}
	if len(answers) != len(items)+1 {
		return fmt.Errorf("%w: enqueue reply %v", redisx.ErrBadReply, answers)
	}
	accepted := 0
	for i, a := range answers[1:] {
		if a == 0 {
			errs[i] = fmt.Errorf("%w: %q", ErrDuplicate, items[i].id)
			continue
		}
		accepted++
	}
	q.stats.enqueued.Add(uint64(accepted))
	// Local Dequeues are woken per job; a wake-up must be passed on only
	// when the script left the other processes' to this one (2).
	for range accepted {
		if !q.waiters.wakeOne(answers[0] == 2) {
			q.wakeAfter(answers[0] == 2)
			break
		}
	}
	return nil
}
