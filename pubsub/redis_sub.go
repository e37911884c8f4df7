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
	"time"

	"github.com/redis/go-redis/v9"
)

// redisSub is one subscription's consumer: a reader goroutine that feeds
// entries to the workers (its own pending ones first, then new ones, and
// now and then those reclaimed from dead consumers), the workers, and a
// heartbeat goroutine.
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
	consumer  string
	ephemeral bool
	h         Handler
	d         delivery

	ctx    context.Context // handlers'; cancelled when draining ran out of time
	cancel context.CancelFunc
	stop   chan struct{} // closed to stop reading
	work   chan entry
	acks   chan string
	wg     sync.WaitGroup // every goroutine
	wwg    sync.WaitGroup // the workers
	ended  bool           // guarded by Redis.mu

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
		stop: make(chan struct{}), work: make(chan entry), acks: make(chan string, 256), held: make(map[string]struct{})}
	if s.group == "" {
		s.group, s.ephemeral = "~"+randHex(8), true
	}
	if s.consumer == "" {
		s.consumer = b.hostName + "-" + randHex(4)
	}
	s.stream = b.streamKey(s.group)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// heartbeatEvery is how often live consumers touch their entries; lease is
// how long an ephemeral group outlives its last heartbeat.
func (s *redisSub) heartbeatEvery() time.Duration { return min(s.b.cfg.visibility/3, 10*time.Second) }
func (s *redisSub) lease() time.Duration          { return 3 * s.heartbeatEvery() }
func (s *redisSub) reclaimEvery() time.Duration   { return min(s.b.cfg.visibility/2, time.Second) }

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

// ack acknowledges handled entries in batches: whatever the workers
// finished while the previous XACK was under way goes in the next one.
// It ends when the workers have ended and every ack is sent.
func (s *redisSub) ack() {
	defer s.wg.Done()
	go func() {
		s.wwg.Wait()
		close(s.acks)
	}()
	ids := make([]string, 0, 256)
	for id := range s.acks {
		ids = append(ids[:0], id)
	more:
		for len(ids) < cap(ids) {
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
		ctx, cancel := s.b.callCtx(context.Background())
		if err := s.b.client.XAck(ctx, s.stream, s.group, ids...).Err(); err != nil {
			s.b.stats.errors.Add(1) // they stay pending and come back: at least once
		}
		cancel()
		s.release(ids...)
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

// read feeds the workers until stop, then closes work.
func (s *redisSub) read() {
	defer s.wg.Done()
	defer close(s.work)
	b := s.b
	ctx := context.Background()
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
		cctx, cancel := context.WithTimeout(ctx, b.cfg.readBlock+b.cfg.timeout)
		res, err := b.client.XReadGroup(cctx, &redis.XReadGroupArgs{Group: s.group, Consumer: s.consumer,
			Streams: []string{s.stream, ">"}, Count: int64(b.cfg.batch), Block: b.cfg.readBlock}).Result()
		cancel()
		if err != nil {
			if errors.Is(err, redis.Nil) {
				continue
			}
			b.stats.errors.Add(1)
			if s.ephemeral && strings.HasPrefix(err.Error(), "NOGROUP") {
				s.rebind() // reaped while this process was cut off
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
	ctx, cancel := s.b.callCtx(ctx)
	defer cancel()
	idle := consumerIdleFactor * s.b.cfg.visibility
	if err := tidyScript.Run(ctx, s.b.client, []string{s.stream}, s.group, s.consumer, idle.Milliseconds()).Err(); err != nil {
		s.b.stats.errors.Add(1)
	}
}

// rebind binds an ephemeral group again after it was reaped while this
// process was cut off from Redis (a durable group deleted by DeleteGroup
// stays deleted: its members idle until it is bound again).
func (s *redisSub) rebind() {
	lease := ""
	if s.ephemeral {
		lease = strconv.FormatInt(s.lease().Milliseconds(), 10)
	}
	ctx, cancel := s.b.callCtx(context.Background())
	defer cancel()
	err := bindScript.Run(ctx, s.b.client, []string{s.b.regKey, s.b.verKey, s.stream, s.b.ephKey}, s.group, s.pattern, lease).Err()
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
	ctx, cancel := s.b.callCtx(ctx)
	defer cancel()
	res, err := claimScript.Run(ctx, s.b.client, []string{s.stream}, s.group, s.consumer, mode, cursor,
		s.b.cfg.visibility.Milliseconds(), s.b.cfg.batch).Slice()
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

func (s *redisSub) worker() {
	defer s.wg.Done()
	defer s.wwg.Done()
	for e := range s.work {
		s.handle(e)
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
		_, es, cerr := s.claim(context.Background(), "retry", e.id)
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
	ctx, cancel := b.callCtx(context.Background())
	defer cancel()
	if m.Topic == b.cfg.deadTopic {
		if err := b.client.XAck(ctx, s.stream, s.group, e.id).Err(); err != nil {
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
		err = b.route(ctx, b.cfg.deadTopic, []string{s.stream, s.group, e.id}, fields)
	}
	if err != nil {
		b.stats.errors.Add(1)
		return
	}
	b.stats.deadLettered.Add(1)
}

// heartbeat keeps held entries from being reclaimed, renews an
// ephemeral group's lease, and reaps the ephemeral groups of dead
// processes.
func (s *redisSub) heartbeat() {
	defer s.wg.Done()
	t := time.NewTicker(s.heartbeatEvery())
	defer t.Stop()
	b := s.b
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		args := make([]any, 0, 3+len(s.held))
		lease := ""
		if s.ephemeral {
			lease = strconv.FormatInt(s.lease().Milliseconds(), 10)
		}
		args = append(args, s.group, s.consumer, lease)
		for id := range s.held {
			args = append(args, id)
		}
		s.mu.Unlock()
		ctx, cancel := b.callCtx(context.Background())
		if err := heartbeatScript.Run(ctx, b.client, []string{s.stream, b.ephKey}, args...).Err(); err != nil {
			b.stats.errors.Add(1)
		}
		cancel()
		if err := b.reap(context.Background()); err != nil {
			b.stats.errors.Add(1)
		}
	}
}

// unbind removes an ephemeral group, or this consumer from a durable group
// if it holds nothing.
func (s *redisSub) unbind() {
	b := s.b
	ctx, cancel := b.callCtx(context.Background())
	defer cancel()
	var err error
	if s.ephemeral {
		err = unbindScript.Run(ctx, b.client, []string{b.regKey, b.verKey, s.stream, b.ephKey}, s.group).Err()
	} else {
		err = leaveScript.Run(ctx, b.client, []string{s.stream}, s.group, s.consumer).Err()
	}
	if err != nil {
		b.stats.errors.Add(1)
	}
}

// Unsubscribe implements Subscription.
func (s *redisSub) Unsubscribe() error {
	b := s.b
	b.mu.Lock()
	if s.ended {
		b.mu.Unlock()
		return ErrClosed
	}
	s.ended = true
	delete(b.subs, s)
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return stopRedisSubs(ctx, []*redisSub{s})
}

// stopRedisSubs stops reading, waits for the handlers until ctx ends
// (then cancels them), and unbinds.
func stopRedisSubs(ctx context.Context, subs []*redisSub) error {
	for _, s := range subs {
		close(s.stop)
	}
	done := make(chan struct{})
	go func() {
		for _, s := range subs {
			s.wg.Wait()
		}
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, s := range subs {
			s.cancel()
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
		err = fmt.Errorf("%w: %w", ErrDrainTimeout, ctx.Err())
	}
	for _, s := range subs {
		s.cancel()
		s.unbind()
	}
	return err
}
