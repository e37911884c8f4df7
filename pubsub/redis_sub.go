package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// redisSub is one subscription's consumer: a reader goroutine that feeds
// entries to the workers (its own pending ones first, then new ones, and
// now and then those reclaimed from dead consumers), the workers, an ack
// goroutine and a heartbeat goroutine.
//
// An entry is held (in held, heartbeated) from the moment a read or claim
// returns it until it is acknowledged, dead-lettered or dropped: while it
// waits for a free worker, while a handler runs, while the worker backs
// off, and while its XACK is queued. So no entry of a live consumer is
// reclaimed by another, however long it waits or runs.
type redisSub struct {
	b         *Redis
	pattern   string
	group     string
	stream    string
	lease     string // the lease key of an ephemeral group
	consumer  string
	ephemeral bool
	h         Handler
	d         delivery

	// ctx is the handlers' and every Redis call's; it is cancelled when
	// draining ran out of time, so that nothing outlives Shutdown's
	// deadline. A read under way at stop is left to finish by itself
	// (within the read block) until then: given up on, it would still take
	// entries on the server, to be redelivered only after the visibility
	// timeout.
	ctx     context.Context
	cancel  context.CancelFunc
	stop    chan struct{} // closed to stop reading
	drained chan struct{} // closed once the workers ended and their acks were sent
	work    chan entry
	acks    chan string
	wg      sync.WaitGroup // every goroutine
	wwg     sync.WaitGroup // the workers
	ended   bool           // guarded by Redis.mu

	bound atomic.Pointer[regVersion] // the registry version the group was last bound at

	mu   sync.Mutex
	held map[string]struct{}
}

type entry struct {
	id      string
	get     func(string) (string, bool)
	attempt int
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRedisSub(b *Redis, pattern string, h Handler, sc subConfig) *redisSub {
	s := &redisSub{b: b, pattern: pattern, group: sc.group, consumer: sc.consumer, h: h, d: sc.delivery,
		stop: make(chan struct{}), drained: make(chan struct{}), work: make(chan entry),
		acks: make(chan string, 256), held: make(map[string]struct{})}
	if s.group == "" {
		s.group, s.ephemeral = "~"+randHex(8), true
	}
	if s.consumer == "" {
		s.consumer = b.hostName + "-" + randHex(4)
	}
	s.stream, s.lease = b.streamKey(s.group), b.leaseKey(s.group)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// heartbeatEvery is how often live consumers touch their entries and
// leases; leaseFor is how long an ephemeral group outlives its last
// heartbeat.
func (s *redisSub) heartbeatEvery() time.Duration { return min(s.b.cfg.visibility/3, 10*time.Second) }
func (s *redisSub) leaseFor() time.Duration       { return 3 * s.heartbeatEvery() }
func (s *redisSub) reclaimEvery() time.Duration   { return min(s.b.cfg.visibility/2, time.Second) }

// leaseArg is the lease in ms for the scripts, empty for a durable group.
func (s *redisSub) leaseArg() string {
	if !s.ephemeral {
		return ""
	}
	return strconv.FormatInt(s.leaseFor().Milliseconds(), 10)
}

func (s *redisSub) boundAt() regVersion {
	if v := s.bound.Load(); v != nil {
		return *v
	}
	return regVersion{}
}

// Outcomes of bind.lua.
const (
	bindElsewhere = 0 // the group is bound to another pattern
	bindOK        = 1
	bindDeleted   = 2 // rebinding a group that DeleteGroup removed
)

type bindResult struct {
	status  int64
	pattern string // bindElsewhere: the group's pattern
	created bool   // bindOK: this call created the binding or consumer group
}

// bind binds the group (see lua/bind.lua): Subscribe with epoch "", a
// running member whose group vanished with the epoch it was bound in.
func (s *redisSub) bind(ctx context.Context, epoch string) (bindResult, error) {
	b := s.b
	keys := []string{b.regKey, b.verKey, s.stream, b.ephKey, s.lease}
	args := []any{s.group, s.pattern, s.leaseArg(), epoch, randHex(8)}
	res, err := b.bound().Eval(ctx, b.client, bindScript, keys, args, nil).Slice()
	if err != nil {
		return bindResult{}, err
	}
	if len(res) < 2 {
		return bindResult{}, errors.New("pubsub: malformed bind reply")
	}
	status, err := redisx.Int64(res[0])
	if err != nil {
		return bindResult{}, err
	}
	r := bindResult{status: status}
	switch status {
	case bindElsewhere:
		r.pattern, _ = res[1].(string)
	case bindOK:
		version, _ := res[1].(string)
		v := parseVersion(version)
		s.bound.Store(&v)
		if len(res) > 2 {
			n, _ := redisx.Int64(res[2])
			r.created = n == 1
		}
	}
	return r, nil
}

// rebind binds the group again after it vanished while this subscription
// ran: Redis lost its data, or (ephemeral) reaped it while this process
// was cut off. A durable group that DeleteGroup removed stays deleted (its
// members idle until a Subscribe binds it again).
func (s *redisSub) rebind(ctx context.Context) {
	epoch := ""
	if !s.ephemeral {
		epoch = s.boundAt().epoch
	}
	r, err := s.bind(ctx, epoch)
	if err != nil {
		s.b.stats.errors.Add(1)
		return
	}
	if r.status == bindOK && r.created {
		s.b.stats.rebinds.Add(1)
	}
}

func (s *redisSub) start() {
	s.wg.Add(3 + s.d.workers)
	s.wwg.Add(s.d.workers)
	go s.read()
	go s.heartbeat()
	go s.ack()
	for range s.d.workers {
		go s.worker()
	}
}

func (s *redisSub) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// ack acknowledges handled entries in batches: whatever the workers
// finished while the previous XACK was under way goes in the next one.
// It ends when the workers have ended and every ack is sent.
func (s *redisSub) ack() {
	defer s.wg.Done()
	defer close(s.drained)
	go func() {
		s.wwg.Wait()
		close(s.acks)
	}()
	for id := range s.acks {
		// A fresh slice per batch: a call given up on may still read it.
		ids := append(make([]string, 0, 16), id)
	more:
		for len(ids) < 256 {
			select {
			case id, ok := <-s.acks:
				if !ok {
					break more
				}
				ids = append(ids, id)
			default:
				break more
			}
		}
		err := redisx.Run(s.ctx, s.b.bound(), func(ctx context.Context) error {
			return s.b.client.XAck(ctx, s.stream, s.group, ids...).Err()
		})
		if err != nil {
			s.b.stats.errors.Add(1) // they stay pending and come back: at least once
		}
		s.release(ids...)
	}
}

// read feeds the workers until stop, then closes work.
func (s *redisSub) read() {
	defer s.wg.Done()
	defer close(s.work)
	b := s.b
	ctx := s.ctx
	// Entries this consumer name held when it last stopped.
	for cursor := "0-0"; !s.stopped(); {
		next, es, err := s.claim(ctx, "own", cursor)
		if err != nil {
			b.stats.errors.Add(1)
			break
		}
		s.hold(es)
		if !s.dispatch(es) || len(es) == 0 || next == cursor {
			break
		}
		cursor = next
	}
	lastReclaim, cursor := time.Time{}, "0-0"
	for !s.stopped() {
		if time.Since(lastReclaim) >= s.reclaimEvery() {
			next, es, err := s.claim(ctx, "dead", cursor)
			if err != nil {
				b.stats.errors.Add(1)
			} else {
				cursor = next
				s.hold(es)
				if !s.dispatch(es) {
					return
				}
				if cursor == "0-0" {
					lastReclaim = time.Now()
					s.tidy(ctx)
				}
			}
		}
		res, err := redisx.Do(ctx, b.readBound, func(ctx context.Context) ([]redis.XStream, error) {
			return b.client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: s.group, Consumer: s.consumer,
				Streams: []string{s.stream, ">"}, Count: int64(b.cfg.batch), Block: b.cfg.readBlock}).Result()
		})
		if err != nil {
			if errors.Is(err, redis.Nil) {
				continue
			}
			if s.stopped() {
				return
			}
			b.stats.errors.Add(1)
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				s.rebind(ctx) // Redis lost the group, or reaped it while this process was cut off
			}
			// Back off a little: Redis is down or the group is gone.
			if !sleep(min(b.cfg.readBlock, 100*time.Millisecond), s.stop) {
				return
			}
			continue
		}
		for _, st := range res {
			es := make([]entry, len(st.Messages))
			for i, xm := range st.Messages {
				es[i] = entry{id: xm.ID, get: mapGetter(xm.Values), attempt: 1}
			}
			s.hold(es)
			if !s.dispatch(es) {
				return
			}
		}
	}
}

// consumerIdleFactor × the visibility timeout is how long a consumer
// that holds nothing may stay idle before the reclaim pass deletes it.
const consumerIdleFactor = 4

// tidy trims what the group has acknowledged from its stream and deletes
// consumers of dead processes (see lua/tidy.lua); run by the reclaim pass.
func (s *redisSub) tidy(ctx context.Context) {
	idle := consumerIdleFactor * s.b.cfg.visibility
	err := s.b.bound().Eval(ctx, s.b.client, tidyScript, []string{s.stream},
		[]any{s.group, s.consumer, idle.Milliseconds()}, nil).Err()
	if err != nil {
		s.b.stats.errors.Add(1)
	}
}

func mapGetter(v map[string]any) func(string) (string, bool) {
	return func(k string) (string, bool) {
		x, ok := v[k]
		if !ok {
			return "", false
		}
		str, ok := x.(string)
		return str, ok
	}
}

func listGetter(v []any) func(string) (string, bool) {
	return func(k string) (string, bool) {
		for i := 0; i+1 < len(v); i += 2 {
			if f, _ := v[i].(string); f == k {
				str, ok := v[i+1].(string)
				return str, ok
			}
		}
		return "", false
	}
}

// dispatch hands entries to the workers one by one; false when stopping
// (the rest stay pending in Redis).
func (s *redisSub) dispatch(es []entry) bool {
	for _, e := range es {
		select {
		case s.work <- e:
		case <-s.stop:
			return false
		}
	}
	return true
}

// claim runs the claim script in mode own, dead or retry.
func (s *redisSub) claim(ctx context.Context, mode, cursor string) (string, []entry, error) {
	res, err := s.b.bound().Eval(ctx, s.b.client, claimScript, []string{s.stream},
		[]any{s.group, s.consumer, mode, cursor, s.b.cfg.visibility.Milliseconds(), s.b.cfg.batch}, nil).Slice()
	if err != nil {
		return cursor, nil, err
	}
	if len(res) == 0 {
		return cursor, nil, errors.New("pubsub: malformed claim reply")
	}
	next, _ := res[0].(string)
	es := make([]entry, 0, len(res)-1)
	for _, r := range res[1:] {
		t, ok := r.([]any)
		if !ok || len(t) != 3 {
			continue
		}
		id, _ := t[0].(string)
		fields, _ := t[1].([]any)
		n, _ := t[2].(int64)
		es = append(es, entry{id: id, get: listGetter(fields), attempt: int(n)})
	}
	return next, es, nil
}

// worker handles entries until the reader closes work, or until the
// drain ran out of time: then a read may still be under way (on a client
// that honours ctx deadlines, cancelling its ctx does not end it), and
// nothing it returns will be handled.
func (s *redisSub) worker() {
	defer s.wg.Done()
	defer s.wwg.Done()
	for {
		select {
		case e, ok := <-s.work:
			if !ok {
				return
			}
			s.handle(e)
		case <-s.ctx.Done():
			return
		}
	}
}

// hold marks entries just read or claimed as this consumer's: the
// heartbeat keeps them from being reclaimed until release.
func (s *redisSub) hold(es []entry) {
	if len(es) == 0 {
		return
	}
	s.mu.Lock()
	for _, e := range es {
		s.held[e.id] = struct{}{}
	}
	s.mu.Unlock()
}

// release stops heartbeating entries: acknowledged, dead-lettered, or
// given up to be reclaimed.
func (s *redisSub) release(ids ...string) {
	s.mu.Lock()
	for _, id := range ids {
		delete(s.held, id)
	}
	s.mu.Unlock()
}

// handle delivers e until it is acknowledged (the ack goroutine releases
// it once its XACK is done), dead-lettered or given up.
func (s *redisSub) handle(e entry) {
	c := &s.b.stats
	acked := false
	defer func() {
		if !acked {
			s.release(e.id)
		}
	}()
	m, err := decodeFields(e.get)
	if err != nil {
		// Undeliverable: dead-letter it at once, as far as it can be read.
		m = &Message{ID: e.id, Topic: "unknown"}
		s.deadLetter(e, m, e.attempt, err)
		return
	}
	for attempt := e.attempt; ; attempt++ {
		m.Attempt = attempt
		if attempt > s.d.maxAttempts {
			// Delivered too often already: its consumers died mid-handler.
			s.deadLetter(e, m, attempt-1, errors.New("pubsub: consumers stopped while handling it"))
			return
		}
		if s.ctx.Err() != nil {
			return // stopped: it stays pending, for another consumer
		}
		err := call(s.ctx, s.h, m, c)
		if err == nil {
			acked = true
			s.acks <- e.id
			c.delivered.Add(1)
			return
		}
		c.failed.Add(1)
		if s.ctx.Err() != nil {
			return // stopping: it stays pending, for another consumer
		}
		if attempt >= s.d.maxAttempts {
			s.deadLetter(e, m, attempt, err)
			return
		}
		c.retried.Add(1)
		if !sleep(s.d.backoff(attempt), s.ctx.Done()) {
			return
		}
		_, es, cerr := s.claim(s.ctx, "retry", e.id)
		if cerr != nil {
			c.errors.Add(1)
			return // still pending: reclaimed after the visibility timeout
		}
		if len(es) == 0 {
			return // no longer ours: acknowledged or reclaimed elsewhere
		}
		attempt = es[0].attempt - 1
	}
}

func (s *redisSub) deadLetter(e entry, m *Message, attempts int, cause error) {
	b := s.b
	if m.Topic == b.cfg.deadTopic {
		err := redisx.Run(s.ctx, b.bound(), func(ctx context.Context) error {
			return b.client.XAck(ctx, s.stream, s.group, e.id).Err()
		})
		if err != nil {
			b.stats.errors.Add(1)
			return
		}
		b.stats.deadDropped.Add(1)
		return
	}
	name := s.group
	if s.ephemeral {
		name = s.pattern
	}
	fields, err := encodeFields(b.idBase+strconv.FormatUint(b.seq.Add(1), 10), b.cfg.deadTopic, m.Payload,
		deadMetadata(m, name, attempts, cause), b.cfg.now())
	if err == nil {
		err = b.route(s.ctx, b.cfg.deadTopic, []string{s.stream, s.group, e.id}, fields)
	}
	if err != nil {
		b.stats.errors.Add(1)
		return
	}
	b.stats.deadLettered.Add(1)
}

// heartbeat keeps held entries from being reclaimed and renews an
// ephemeral group's lease (binding the group again when its lease is
// gone), until the workers have ended; while the subscription runs, it
// also reaps the ephemeral groups of dead processes.
func (s *redisSub) heartbeat() {
	defer s.wg.Done()
	t := time.NewTicker(s.heartbeatEvery())
	defer t.Stop()
	b := s.b
	for {
		select {
		case <-s.drained:
			return
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		args := make([]any, 0, 3+len(s.held))
		args = append(args, s.group, s.consumer, s.leaseArg())
		for id := range s.held {
			args = append(args, id)
		}
		s.mu.Unlock()
		began := time.Now()
		alive, err := b.bound().Eval(s.ctx, b.client, heartbeatScript, []string{s.stream, b.ephKey, s.lease}, args, nil).Int64()
		if err != nil {
			b.stats.errors.Add(1)
		}
		if err != nil || time.Since(began) > s.heartbeatEvery() {
			// Redis is out of reach or overloaded: others may be late
			// renewing their leases too.
			b.holdReaping(s.leaseFor())
		}
		if s.stopped() {
			continue
		}
		if err == nil && alive == 0 {
			s.rebind(s.ctx) // reaped or lost: bind again before publishers miss it
		}
		if b.mayReap() {
			if err := b.reap(s.ctx); err != nil {
				b.stats.errors.Add(1)
				b.holdReaping(s.leaseFor())
			}
		}
	}
}

// unbind removes an ephemeral group, or this consumer from a durable group
// if it holds nothing, within ctx and the bus's timeout.
func (s *redisSub) unbind(ctx context.Context) error {
	b := s.b
	var err error
	if s.ephemeral {
		keys := []string{b.regKey, b.verKey, s.stream, b.ephKey, s.lease}
		err = b.bound().Eval(ctx, b.client, unbindScript, keys, []any{s.group, randHex(8)}, nil).Err()
	} else {
		err = b.bound().Eval(ctx, b.client, leaveScript, []string{s.stream}, []any{s.group, s.consumer}, nil).Err()
	}
	if err != nil {
		b.stats.errors.Add(1)
		return fmt.Errorf("pubsub: unbinding %s: %w", s.group, err)
	}
	return nil
}

// Unsubscribe implements Subscription: it stops reading at once, waits for
// in-flight handlers for at most the drain timeout (then cancels them),
// and unbinds, all within the drain timeout (see Redis.Shutdown).
func (s *redisSub) Unsubscribe() error {
	b := s.b
	b.mu.Lock()
	if s.ended {
		b.mu.Unlock()
		return ErrClosed
	}
	s.ended = true
	delete(b.subs, s)
	b.local.remove(s.pattern, s)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return stopRedisSubs(ctx, []*redisSub{s})
}
