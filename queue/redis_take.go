package queue

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/internal/groupcommit"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Limits of one take batch (Dequeues and Nexts), so one script never runs
// long.
const (
	takeMaxOut   = 2 // a batch on the server while another's reply is read
	takeMaxItems = 64
)

// takeItem is one Dequeue's (or Next's) part of a take script call.
type takeItem struct {
	token string // the new lease's token
	ack   string // lease member of the delivery Next acks; empty for none
	nonce string // the ack's call nonce
}

// takeAnswer is what the take script answered one caller: answer is
// {1, member, record}, {0, wait_us} or {-1} (see lua/take.lua); left is
// how many jobs the call left ready, passedOn whether the script passed
// the wake-up for them on to other processes; pushed, shared by the
// callers of one call, whether one of them pushed a wake-up to the list.
type takeAnswer struct {
	answer   []any
	left     int64
	passedOn bool
	pushed   *atomic.Bool
}

// newTakeBatcher merges concurrent Dequeues and Nexts into take script
// calls (see groupcommit): one call for many shares the script's fixed
// work (the clock, the reclaim and schedule scans) and its round trip.
func newTakeBatcher(q *Redis) (*groupcommit.Batcher[takeItem, takeAnswer], error) {
	return groupcommit.New(groupcommit.Config[takeItem, takeAnswer]{
		MaxOut: takeMaxOut, MaxItems: takeMaxItems, Timeout: q.cfg.timeout,
		Run: q.takeBatch,
	})
}

// takeBatch runs the take script for items and sets each one's answer;
// the error is the call's, for all of them. It reports the jobs the call
// reclaimed.
func (q *Redis) takeBatch(ctx context.Context, items []takeItem, res []takeAnswer) error {
	k := q.k
	keys := make([]string, 6, 6+2*len(items))
	keys[0], keys[1], keys[2], keys[3], keys[4], keys[5] = k.ready, k.sched, k.leases, k.jobs, k.wake, k.seq
	passOn := q.passOnArg()
	args := make([]any, 7, 7+3*len(items))
	args[0], args[1], args[2], args[3], args[4], args[5], args[6] = q.clockArg(), q.cfg.visibility.Microseconds(),
		q.agingArg(), reclaimBatch, q.markerTTL, wakeTTLArg, passOn
	for _, it := range items {
		acked := k.marker(it.token)
		if it.ack != "" {
			acked = k.marker(it.ack)
		}
		keys = append(keys, k.marker(it.token), acked)
		args = append(args, it.token, it.ack, it.nonce)
	}
	reply, err := q.bound.Eval(ctx, q.c, takeScript, keys, args, nil).Slice()
	if err != nil {
		return err
	}
	if len(reply) != 2+len(items) {
		return fmt.Errorf("%w: take reply %v", redisx.ErrBadReply, reply)
	}
	if rec, ok := reply[0].([]any); ok {
		q.reclaimed(rec)
	}
	left, err := redisx.Int64(reply[1])
	if err != nil {
		return fmt.Errorf("%w: take reply %v", redisx.ErrBadReply, reply)
	}
	pushed := new(atomic.Bool)
	for i := range items {
		answer, ok := reply[2+i].([]any)
		if !ok || len(answer) == 0 {
			return fmt.Errorf("%w: take reply %v", redisx.ErrBadReply, reply)
		}
		res[i] = takeAnswer{answer: answer, left: left, passedOn: passOn == "1", pushed: pushed}
	}
	return nil
}

// try runs the take script once for this caller, alone or in a batch (as
// Next when ack is not nil: ack's ack first): a delivery, or how long
// until the next job may be due (negative: nothing scheduled or leased).
func (q *Redis) try(ctx context.Context, wake chan bool, ack *Delivery) (*Delivery, time.Duration, error) {
	item := takeItem{token: newToken()}
	callCtx := ctx
	if ack != nil {
		item.ack, item.nonce = ack.lease, newToken()
		// Not cut short by ctx: the ack must land (WithTimeout bounds it).
		callCtx = context.WithoutCancel(ctx)
	}
	gen := q.idle.generation()
	var res takeAnswer
	var err error
	if q.cfg.unpipelined {
		out := make([]takeAnswer, 1)
		err, res = q.takeBatch(callCtx, []takeItem{item}, out), out[0]
	} else {
		res, err = q.takes.Do(callCtx, item)
	}
	if err != nil {
		if ack != nil {
			return nil, 0, fmt.Errorf("queue: next: ack %q: %w", ack.ID, err)
		}
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, fmt.Errorf("queue: dequeue: %w", err)
	}
	kind, err := redisx.Int64(res.answer[0])
	if err != nil {
		return nil, 0, fmt.Errorf("queue: dequeue: %w: answer %v", redisx.ErrBadReply, res.answer)
	}
	if ack != nil {
		if kind == -1 { // the acked delivery's lease is lost
			return nil, 0, q.lost(ack)
		}
		q.drop(ack.lease)
		q.stats.acked.Add(1)
	}
	d, wait, err := q.parseAnswer(kind, res.answer, item.token)
	if err != nil {
		return nil, 0, fmt.Errorf("queue: dequeue: %w", err)
	}
	switch {
	case d == nil:
		q.idle.saw(gen, true, wait)
	case res.left > 0:
		q.idle.saw(gen, false, 0)
		q.passOn(wake, res.passedOn, res.pushed)
	}
	if d != nil {
		q.hold(d.ID, d.lease)
		q.stats.deliveredOne(d.Priority)
	}
	return d, wait, nil
}

// parseAnswer reads one caller's answer of the take script: a delivery
// leased under token, or the wait until a job may be due.
func (q *Redis) parseAnswer(kind int64, answer []any, token string) (*Delivery, time.Duration, error) {
	// bad is made only when needed: formatting the answer, payload and
	// all, costs more than the rest of a take's parsing.
	bad := func() error { return fmt.Errorf("%w: take answer %v", redisx.ErrBadReply, answer) }
	switch {
	case kind == 0 && len(answer) == 2:
		us, err := redisx.Int64(answer[1])
		if err != nil {
			return nil, 0, bad()
		}
		if us < 0 {
			return nil, -1, nil
		}
		return nil, time.Duration(us) * time.Microsecond, nil
	case kind == 1 && len(answer) == 3:
		member, _ := answer[1].(string)
		record, _ := answer[2].(string)
		if len(member) <= seqLen {
			return nil, 0, bad()
		}
		d, err := parseRecord(member[seqLen:], record)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", redisx.ErrBadReply, err)
		}
		d.lease = token + member
		return d, 0, nil
	}
	return nil, 0, bad()
}
