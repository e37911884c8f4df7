package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/groupcommit"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Redis is a Queue shared by every process that opens the same name in
// one Redis (or Redis Cluster), durable as far as Redis is (see the
// package doc). Every operation is one Lua script. Each Redis value starts
// two goroutines, a lease renewer and a wake-up listener, stopped by Close.
//
// Keys, all in one hash slot: <prefix>{<name>}:ready (due jobs by aged
// score), :scheduled (by due time), :leases (lease token + job, by lease
// expiry), :jobs (a hash by job ID: a short header, then the payload),
// :seq (the enqueue counter, ordering jobs of equal score: FIFO), :wake (a
// short wake-up list with a TTL) and :d:<lease token> (a delivery's
// marker, with a TTL of WithTimeout + 15s, so that a call go-redis runs
// twice after a lost reply acts once). A job's entries are deleted by Ack
// and Cancel, the counter with the last job; empty sets vanish by
// themselves: a drained queue leaves only the wake-up list, for a minute.
//
// This layout is the second one (v0.x, session 4): keys written by the
// first (:body and :meta hashes) are not read or migrated; drain a queue
// before upgrading, or let its jobs be enqueued again.
type Redis struct {
	c      redis.UniversalClient
	cfg    config
	bound  redisx.Bound
	k      keys
	emit   emitter
	stats  counters
	health health

	heldMu sync.Mutex
	held   map[string]string // lease member (token + job member) -> job ID of this process's deliveries

	closed  atomic.Bool
	closing chan struct{} // closed by Close: stops the goroutines, ends waits
	noRenew chan struct{} // closed to stop renewing (Close; tests simulating a hung process)
	stopRen sync.Once
	done    sync.WaitGroup
	ctx     context.Context // the goroutines' calls; cancelled by Close
	cancel  context.CancelFunc

	markerTTL string // how long a delivery's marker lives, in ms

	enqueues *groupcommit.Batcher[enqueueItem, error]   // concurrent Enqueues, sent as batches
	takes    *groupcommit.Batcher[takeItem, takeAnswer] // concurrent Dequeues and Nexts, sent as batches

	waiters waitlist      // Dequeues of this process that may wait
	idle    idleHint      // this process saw nothing ready: Dequeues may wait without looking
	blocked atomic.Int64  // of those, the ones waiting now (the listener runs while > 0)
	want    chan struct{} // tells the listener a Dequeue started waiting
}

// reclaimBatch bounds how many expired leases and how many due scheduled
// jobs one Dequeue moves, so one script never runs long.
const reclaimBatch = 100

// markerGrace is how long, beyond WithTimeout, a delivery's marker
// outlives its calls: go-redis may run a call again (after a read timeout)
// for up to about its ReadTimeout × (MaxRetries+1), 12s by default, after
// the caller stopped waiting.
const markerGrace = 15 * time.Second

// wakeTTL keeps the wake-up list from outliving its use.
const wakeTTL = time.Minute

// maxBlock bounds one BLPOP of the wake-up listener, below go-redis's
// default 3s ReadTimeout and the 1s many services use (the listener sends BLPOP with a fractional
// timeout, which go-redis does not know to wait for).
const maxBlock = 500 * time.Millisecond

// NewRedis returns the queue named by WithName (default DefaultName) in
// the Redis c talks to.
func NewRedis(c redis.UniversalClient, opts ...RedisOption) (*Redis, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	cfg, err := applyRedis(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Redis{
		c: c, cfg: cfg, bound: redisx.NewBound(c, cfg.timeout), k: newKeys(cfg.prefix, cfg.name),
		emit: emitter{observer: cfg.observer, logger: cfg.logger},
		held: make(map[string]string), closing: make(chan struct{}), noRenew: make(chan struct{}), ctx: ctx, cancel: cancel,
		want:      make(chan struct{}, 1),
		markerTTL: strconv.FormatInt((cfg.timeout + markerGrace).Milliseconds(), 10),
	}
	if cfg.unpipelined {
		q.bound = q.bound.WithoutPipelining()
	}
	if q.enqueues, err = newEnqueueBatcher(q); err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if q.takes, err = newTakeBatcher(q); err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	q.done.Add(2)
	go q.renewLoop()
	go q.listen()
	return q, nil
}

// Name returns the queue's name.
func (q *Redis) Name() string { return q.cfg.name }

func us(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// clockArg is the scripts' "now": empty for the server's clock, unless
// WithClock was given.
func (q *Redis) clockArg() string {
	if !q.cfg.clockSet {
		return ""
	}
	return us(q.cfg.now())
}

// dueArg is a requested due time for a script: empty for now. A time in
// the past is now too (the script compares it with its clock).
func (q *Redis) dueArg(at time.Time) (string, error) {
	if at.IsZero() {
		return "", nil
	}
	if at.Sub(q.cfg.now()) > maxHorizon {
		return "", fmt.Errorf("%w: due time %s is more than 100 years ahead", ErrInvalidJob, at.Format(time.RFC3339))
	}
	return us(at), nil
}

func (q *Redis) agingArg() string { return strconv.FormatInt(q.cfg.aging.Microseconds(), 10) }

var wakeTTLArg = strconv.FormatInt(wakeTTL.Milliseconds(), 10)

// Ack implements Queue.
func (q *Redis) Ack(ctx context.Context, d *Delivery) error {
	if err := checkDelivery(d); err != nil {
		return err
	}
	if q.closed.Load() {
		return ErrClosed
	}
	gen := q.idle.generation()
	reply, err := q.bound.Eval(ctx, q.c, ackScript, []string{q.k.leases, q.k.jobs, q.k.seq, q.k.marker(d.lease), q.k.ready, q.k.sched},
		[]any{d.lease, newToken(), q.markerTTL, q.clockArg()}, nil).Slice()
	if err != nil {
		return fmt.Errorf("queue: ack %q: %w", d.ID, err)
	}
	if len(reply) == 0 {
		return fmt.Errorf("queue: ack %q: %w: %v", d.ID, redisx.ErrBadReply, reply)
	}
	kind, err := redisx.Int64(reply[0])
	if err != nil {
		return fmt.Errorf("queue: ack %q: %w: %v", d.ID, redisx.ErrBadReply, reply)
	}
	if kind == 0 {
		return q.lost(d)
	}
	if kind == 2 && len(reply) == 2 {
		wait, _ := redisx.Int64(reply[1])
		q.idle.saw(gen, true, time.Duration(wait)*time.Microsecond)
	} else {
		q.idle.saw(gen, false, 0)
	}
	q.drop(d.lease)
	q.stats.acked.Add(1)
	return nil
}

// Retry implements Queue.
func (q *Redis) Retry(ctx context.Context, d *Delivery, at time.Time) error {
	return q.requeue(ctx, d, at, 1)
}

// Defer implements Queue.
func (q *Redis) Defer(ctx context.Context, d *Delivery, at time.Time) error {
	return q.requeue(ctx, d, at, 0)
}

func (q *Redis) requeue(ctx context.Context, d *Delivery, at time.Time, counted int) error {
	if err := checkDelivery(d); err != nil {
		return err
	}
	if q.closed.Load() {
		return ErrClosed
	}
	due, err := q.dueArg(at)
	if err != nil {
		return err
	}
	k := q.k
	n, err := q.bound.Eval(ctx, q.c, requeueScript, []string{k.ready, k.sched, k.leases, k.jobs, k.wake, k.marker(d.lease)},
		[]any{d.lease, due, counted, q.agingArg(), q.clockArg(), wakeTTLArg, q.markerTTL, newToken(), q.passOnArg()}, nil).Int64()
	if err != nil {
		return fmt.Errorf("queue: requeue %q: %w", d.ID, err)
	}
	if n == 0 {
		return q.lost(d)
	}
	q.drop(d.lease)
	if counted > 0 {
		q.stats.retried.Add(1)
	} else {
		q.stats.deferred.Add(1)
	}
	q.wakeAfter(n == 2)
	return nil
}

// lost reports a delivery whose lease is gone, counting it once (the
// renewer may have noticed first).
func (q *Redis) lost(d *Delivery) error {
	if q.drop(d.lease) {
		q.leaseLost(d.ID, d.Attempt)
	}
	return fmt.Errorf("%w: %q", ErrLeaseLost, d.ID)
}

func (q *Redis) leaseLost(id string, attempt int) {
	q.stats.leaseLost.Add(1)
	q.emit.emit(Event{Kind: LeaseLost, Queue: q.cfg.name, JobID: id, Attempt: attempt, At: time.Now()})
}

// hold records a lease for the renewer.
func (q *Redis) hold(id, lease string) {
	q.heldMu.Lock()
	q.held[lease] = id
	q.heldMu.Unlock()
}

// drop forgets a lease; it reports whether this process still held it.
func (q *Redis) drop(lease string) bool {
	q.heldMu.Lock()
	defer q.heldMu.Unlock()
	if _, ok := q.held[lease]; !ok {
		return false
	}
	delete(q.held, lease)
	return true
}

// Cancel implements Queue.
func (q *Redis) Cancel(ctx context.Context, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if q.closed.Load() {
		return ErrClosed
	}
	k := q.k
	n, err := q.bound.Eval(ctx, q.c, cancelScript, []string{k.ready, k.sched, k.jobs, k.seq}, []any{id}, nil).Int64()
	if err != nil {
		return fmt.Errorf("queue: cancel %q: %w", id, err)
	}
	switch n {
	case 0:
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	case 2:
		return fmt.Errorf("%w: %q", ErrLeased, id)
	}
	q.stats.cancelled.Add(1)
	return nil
}

// Len implements Queue. Jobs whose lease expired count as leased until a
// Dequeue reclaims them.
func (q *Redis) Len(ctx context.Context) (ready, scheduled, leased int64, err error) {
	if q.closed.Load() {
		return 0, 0, 0, ErrClosed
	}
	vals, err := q.bound.Eval(ctx, q.c, lenScript, []string{q.k.ready, q.k.sched, q.k.leases}, []any{q.clockArg()}, nil).Int64Slice()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("queue: len: %w", err)
	}
	if len(vals) != 3 {
		return 0, 0, 0, fmt.Errorf("queue: len: %w: %v", redisx.ErrBadReply, vals)
	}
	return vals[0], vals[1], vals[2], nil
}

// Stats implements Queue.
func (q *Redis) Stats() Stats { return q.stats.snapshot() }

// tokenLen is the length of a lease token: the scripts split a lease's
// member (token + job member) by it.
const tokenLen = 16

// newToken returns tokenLen random hex digits: a lease token, or the nonce
// that makes a call safe to run twice.
func newToken() string {
	var b [tokenLen]byte
	const hex = "0123456789abcdef"
	for i, r := 0, rand.Uint64(); i < tokenLen; i, r = i+1, r>>4 {
		b[i] = hex[r&15]
	}
	return string(b[:])
}

// Dequeue implements Queue. It runs the dequeue script; when nothing is
// due it waits for a wake-up (an Enqueue, Retry, Defer or Close in any
// process), the next due time or lease expiry the script reported, or the
// poll interval, whichever comes first. A Redis error is returned, not
// retried: the caller decides how long to back off.
func (q *Redis) Dequeue(ctx context.Context) (*Delivery, error) {
	return q.dequeue(ctx, nil)
}

// Next implements Queue: one script acks done and leases the next ready
// job; with none ready, Next then waits as Dequeue does.
func (q *Redis) Next(ctx context.Context, done *Delivery) (*Delivery, error) {
	if done == nil {
		return q.Dequeue(ctx)
	}
	if err := checkDelivery(done); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		if err := q.Ack(context.WithoutCancel(ctx), done); err != nil {
			return nil, err
		}
		return nil, ctx.Err()
	}
	return q.dequeue(ctx, done)
}

// dequeue is Dequeue, whose first script also acks ack when not nil.
func (q *Redis) dequeue(ctx context.Context, ack *Delivery) (*Delivery, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	// The first look may be skipped when this process just saw nothing
	// ready (idleHint), unless due times come from WithClock, which
	// moves without telling (only a look notices).
	mayWait := ack == nil && !q.cfg.clockSet
	for {
		if q.closed.Load() {
			return nil, ErrClosed
		}
		// Registered before the script runs, so that a job arriving
		// between the script and the wait still wakes this Dequeue.
		wake := q.waiters.add()
		skip, wait := false, time.Duration(0)
		if mayWait {
			skip, wait = q.idle.check()
			mayWait = false
		}
		if !skip {
			var d *Delivery
			var err error
			d, wait, err = q.try(ctx, wake, ack)
			ack = nil
			if err != nil || d != nil {
				q.leave(wake)
				return d, err
			}
		}
		if wait < 0 || wait > q.cfg.poll {
			wait = q.cfg.poll
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		q.blocked.Add(1)
		select {
		case q.want <- struct{}{}:
		default:
		}
		select {
		case <-wake:
		case <-timer.C:
			q.leave(wake)
		case <-q.closing:
			q.waiters.remove(wake)
		case <-ctx.Done():
			q.leave(wake)
		}
		q.blocked.Add(-1)
		timer.Stop()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
}

// passOnArg tells a script whether it is to pass a wake-up on to other
// processes itself ("1": none of this process's Dequeues is blocked) or
// leave it to this process ("0"): a job needs one consumer, and a local
// one is woken without a round trip.
func (q *Redis) passOnArg() string {
	if q.blocked.Load() == 0 {
		return "1"
	}
	return "0"
}

// wakeAfter wakes a Dequeue of this process after a job was queued; when
// the script left the wake-up to this process (mine) and no Dequeue here
// can take it, it goes to the other processes.
func (q *Redis) wakeAfter(mine bool) {
	if q.waiters.wakeOne(mine) {
		return
	}
	q.idle.spoil()
	if mine {
		q.wakeOthers()
	}
}

// passOn hands the wake-up on after a Dequeue that left jobs ready
// (Enqueue wakes consumers only when the ready set was empty): to a
// blocked Dequeue of this process, or, with none, to any process through
// the wake-up list, unless the dequeue script already pushed it there
// (scriptDid). A wake-up lost here costs a consumer at most its poll
// interval.
//
// The callers of one batch share pushed: one wake-up through the list per
// batch is enough, since the Dequeue it wakes passes it on in turn while
// jobs are left.
func (q *Redis) passOn(own chan bool, scriptDid bool, pushed *atomic.Bool) {
	q.leave(own) // the caller has its job: it is no one to wake
	// A local Dequeue woken here must pass the wake-up on unless the
	// script told the other processes already.
	if q.blocked.Load() > 0 && q.waiters.wakeOne(!scriptDid) || scriptDid {
		return
	}
	if pushed != nil && !pushed.CompareAndSwap(false, true) {
		return
	}
	q.wakeOthers()
}

// leave takes a Dequeue off the wait list; a wake-up it had received
// and no one here can take goes to the other processes.
func (q *Redis) leave(wake chan bool) {
	if q.waiters.remove(wake) {
		q.wakeOthers()
	}
}

// wakeOthers pushes a wake-up to the list every process's listener
// blocks on (bounded by WithTimeout; a failure costs a consumer at most
// its poll interval).
func (q *Redis) wakeOthers() {
	q.idle.spoil() // a job is waiting that no Dequeue here was woken for
	_ = q.bound.Eval(q.ctx, q.c, wakeScript, []string{q.k.wake}, []any{wakeTTLArg}, nil).Err()
}

// reclaimed counts and reports the jobs a Dequeue took back from expired
// leases: id, attempt pairs.
func (q *Redis) reclaimed(rec []any) {
	for i := 0; i+1 < len(rec); i += 2 {
		id, _ := rec[i].(string)
		attempt, _ := redisx.Int64(rec[i+1])
		q.stats.reclaimed.Add(1)
		q.emit.emit(Event{Kind: Reclaimed, Queue: q.cfg.name, JobID: id, Attempt: int(attempt), At: time.Now()})
	}
}

// Close implements Queue: it stops the renewer and the listener, ends
// blocked Dequeues with ErrClosed, and releases the leases this value
// holds (one script, bounded by WithTimeout), so their jobs are due again
// at once with Attempt unchanged. A release that fails leaves them to be
// reclaimed after the visibility timeout, and Close returns its error.
func (q *Redis) Close() error {
	if !q.stop() {
		return nil
	}
	return q.release()
}

// stop ends the goroutines and marks q closed; false if it already was.
func (q *Redis) stop() bool {
	if !q.closed.CompareAndSwap(false, true) {
		return false
	}
	close(q.closing)
	q.waiters.wakeAll()
	q.stopRenewing()
	q.cancel()
	q.done.Wait()
	return true
}

func (q *Redis) stopRenewing() { q.stopRen.Do(func() { close(q.noRenew) }) }

func (q *Redis) release() error {
	q.heldMu.Lock()
	args := []any{q.agingArg(), wakeTTLArg}
	for lease := range q.held {
		args = append(args, lease)
	}
	q.held = map[string]string{}
	q.heldMu.Unlock()
	if len(args) == 2 {
		return nil
	}
	k := q.k
	rel, err := q.bound.Eval(context.Background(), q.c, releaseScript, []string{k.ready, k.leases, k.jobs, k.wake}, args, nil).Slice()
	if err != nil {
		return fmt.Errorf("queue: close: releasing %d leases: %w", len(args)-2, err)
	}
	for i := 0; i+1 < len(rel); i += 2 {
		id, _ := rel[i].(string)
		attempt, _ := redisx.Int64(rel[i+1])
		q.stats.released.Add(1)
		q.emit.emit(Event{Kind: Released, Queue: q.cfg.name, JobID: id, Attempt: int(attempt), At: time.Now()})
	}
	return nil
}
