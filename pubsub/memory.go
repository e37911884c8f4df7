package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Memory is a Bus within one process: publishing matches the topic against
// an immutable trie snapshot (no lock) and puts one shared *Message on the
// bounded queue of every matching subscription (or group); each
// subscription's workers take messages off its queue and run its handler.
// Nothing survives the process.
type Memory struct {
	cfg    busConfig
	err    error
	router router[*queue]
	idBase string
	seq    atomic.Uint64
	stats  counters

	closing atomic.Bool
	mu      sync.Mutex // guards what follows
	closed  bool
	groups  map[string]*queue
	subs    map[*memSub]struct{}
}

var _ Bus = (*Memory)(nil)

// NewMemory returns an in-memory bus. Its signature, fixed by the design,
// has no error: a bad option (one wrapping ErrInvalidConfig, or one only a
// Redis bus uses) makes every method of the bus return that error, and
// ConfigErr reports it at once.
func NewMemory(opts ...Option) *Memory {
	cfg, err := applyBusOptions(opts)
	if err == nil && len(cfg.setRedis) > 0 {
		err = fmt.Errorf("%w: %s applies to a Redis bus only", ErrInvalidConfig, cfg.setRedis[0])
	}
	return newMemory(cfg, err)
}

func newMemory(cfg busConfig, err error) *Memory {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &Memory{cfg: cfg, err: err, idBase: hex.EncodeToString(b[:]) + "-",
		groups: make(map[string]*queue), subs: make(map[*memSub]struct{})}
}

// ConfigErr returns the configuration error NewMemory met, or nil.
func (b *Memory) ConfigErr() error { return b.err }

// Stats returns the bus's counters.
func (b *Memory) Stats() Stats { return b.stats.snapshot() }

// envelope holds a Message and the bytes of its ID, so that a publish
// allocates once.
type envelope struct {
	Message
	id [32]byte
}

func (b *Memory) newMessage(topic string, payload []byte, md map[string]string) *Message {
	e := &envelope{}
	n := copy(e.id[:], b.idBase)
	n += len(strconv.AppendUint(e.id[n:n], b.seq.Add(1), 10))
	// e.id is never written again, so the string may share its bytes.
	e.ID = unsafe.String(&e.id[0], n)
	e.Topic, e.Payload, e.Metadata, e.PublishedAt = topic, payload, md, b.cfg.now()
	return &e.Message
}

// Publish implements Bus. The payload is not copied: do not modify it
// afterwards. With OverflowBlock subscriptions it waits for queue room
// until ctx is done; a message already queued to some subscriptions stays
// queued then.
func (b *Memory) Publish(ctx context.Context, topic string, payload []byte) error {
	return b.publish(ctx, topic, payload, nil)
}

// PublishMessage publishes m.Topic, m.Payload and m.Metadata (the other
// fields are set by the bus). Neither m's payload nor its metadata may be
// modified afterwards. A nil m is an error wrapping ErrInvalidConfig.
func (b *Memory) PublishMessage(ctx context.Context, m *Message) error {
	if m == nil {
		return errNilMessage
	}
	return b.publish(ctx, m.Topic, m.Payload, m.Metadata)
}

func (b *Memory) publish(ctx context.Context, topic string, payload []byte, md map[string]string) error {
	if b.err != nil {
		return b.err
	}
	if b.closing.Load() {
		return ErrClosed
	}
	if err := ValidateTopic(topic); err != nil {
		return err
	}
	err := b.dispatch(ctx, b.newMessage(topic, payload, md), true)
	if err == nil {
		b.stats.published.Add(1)
	}
	return err
}

// dispatch queues m to every matching subscription. block false (dead
// letters) never waits for room.
func (b *Memory) dispatch(ctx context.Context, m *Message, block bool) error {
	var buf [16]*node[*queue]
	var first error
	for _, n := range b.router.nodes(m.Topic, buf[:0]) {
		for _, q := range n.items {
			if err := q.put(ctx, m, block, &b.stats); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// queue is one subscription's (or one group's) bounded queue.
type queue struct {
	ch      chan *Message
	policy  Overflow
	gone    chan struct{} // closed once no member is left
	pattern string
	group   string
	members []*memSub // guarded by Memory.mu
}

func (q *queue) name() string {
	if q.group != "" {
		return q.group
	}
	return q.pattern
}

func (q *queue) put(ctx context.Context, m *Message, block bool, c *counters) error {
	select {
	case q.ch <- m:
		return nil
	default:
	}
	switch q.policy {
	case OverflowBlock:
		if !block {
			c.droppedNewest.Add(1)
			return nil
		}
		select {
		case q.ch <- m:
			return nil
		case <-q.gone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("pubsub: publish to %s: %w", m.Topic, ctx.Err())
		}
	case OverflowDropOldest:
		for {
			select {
			case <-q.ch:
				c.droppedOldest.Add(1)
			default:
			}
			select {
			case q.ch <- m:
				return nil
			default:
			}
		}
	case OverflowDropNewest:
		c.droppedNewest.Add(1)
		return nil
	}
	c.rejected.Add(1)
	if !block {
		return nil
	}
	return fmt.Errorf("%w: %s (topic %s)", ErrQueueFull, q.name(), m.Topic)
}

// Subscribe implements Bus. Options: WithGroup and the DeliveryOptions.
func (b *Memory) Subscribe(ctx context.Context, pattern string, h Handler, opts ...SubscribeOption) (Subscription, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil Handler", ErrInvalidConfig)
	}
	sc, err := b.cfg.subConfig(opts)
	if err != nil {
		return nil, err
	}
	if sc.consumer != "" {
		return nil, fmt.Errorf("%w: WithConsumer applies to a Redis bus only", ErrInvalidConfig)
	}
	return b.subscribe(normalizePattern(pattern), h, sc)
}

func (b *Memory) subscribe(pattern string, h Handler, sc subConfig) (*memSub, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	var q *queue
	if sc.group != "" {
		q = b.groups[sc.group]
		if q != nil && q.pattern != pattern {
			return nil, fmt.Errorf("%w: group %s is bound to %s, not %s", ErrGroupBound, sc.group, q.pattern, pattern)
		}
	}
	if q == nil {
		q = &queue{ch: make(chan *Message, sc.queueSize), policy: sc.overflow, gone: make(chan struct{}),
			pattern: pattern, group: sc.group}
		b.router.add(pattern, q)
		if sc.group != "" {
			b.groups[sc.group] = q
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &memSub{b: b, q: q, h: h, d: sc.delivery, ctx: ctx, cancel: cancel, stop: make(chan struct{})}
	q.members = append(q.members, s)
	b.subs[s] = struct{}{}
	s.wg.Add(sc.workers)
	for range sc.workers {
		go s.work()
	}
	return s, nil
}

// memSub is one Subscribe's workers on a queue.
type memSub struct {
	b      *Memory
	q      *queue
	h      Handler
	d      delivery
	ctx    context.Context // the handlers'; cancelled when draining ran out of time
	cancel context.CancelFunc
	stop   chan struct{}
	drain  bool // set before stop is closed: empty the queue first
	ended  bool // guarded by Memory.mu
	wg     sync.WaitGroup
}

func (s *memSub) work() {
	defer s.wg.Done()
	var msg Message // reused for every delivery: handlers must not keep it
	for {
		// While messages are queued and the subscription is not stopping,
		// take them with plain non-blocking receives: a two-way select
		// locks both channels on every message and was a third of a
		// publish-to-delivery. A closed stop falls through to the select
		// below, which handles it as before.
		select {
		case <-s.stop:
		default:
			select {
			case m := <-s.q.ch:
				if !s.take(m, &msg) {
					return
				}
				continue
			default:
			}
		}
		select {
		case m := <-s.q.ch:
			if !s.take(m, &msg) {
				return
			}
		case <-s.stop:
			for s.drain && s.ctx.Err() == nil {
				select {
				case m := <-s.q.ch:
					s.deliver(m, &msg)
				default:
					return
				}
			}
			return
		}
	}
}

// take delivers m, taken off the queue, and reports whether the worker
// goes on. A select whose stop and queue are both ready picks either, so a
// stopped member may take a message after all: unless it drains the queue
// (it was the last member), it hands m back to the group and ends.
func (s *memSub) take(m *Message, msg *Message) bool {
	select {
	case <-s.stop:
		if !s.drain {
			s.abandon(m)
			return false
		}
	default:
	}
	s.deliver(m, msg)
	return true
}

func (s *memSub) deliver(m *Message, msg *Message) {
	c := &s.b.stats
	for attempt := 1; ; attempt++ {
		if s.ctx.Err() != nil {
			// Stopped and out of drain time: never call a handler with a
			// context that is already cancelled.
			s.abandon(m)
			return
		}
		*msg = *m
		msg.Attempt = attempt
		err := call(s.ctx, s.h, msg, c)
		if err == nil {
			c.delivered.Add(1)
			return
		}
		c.failed.Add(1)
		if s.ctx.Err() != nil {
			s.abandon(m)
			return
		}
		if attempt >= s.d.maxAttempts {
			s.b.deadLetter(m, s.q.name(), attempt, err)
			return
		}
		c.retried.Add(1)
		if !sleep(s.d.backoff(attempt), s.ctx.Done()) {
			s.abandon(m)
			return
		}
	}
}

// abandon hands m back to the group when the subscription was stopped
// mid-delivery, if another member can take it.
func (s *memSub) abandon(m *Message) {
	select {
	case <-s.q.gone:
	default:
		select {
		case s.q.ch <- m:
			return
		default:
		}
	}
	s.b.stats.abandoned.Add(1)
}

func (b *Memory) deadLetter(m *Message, group string, attempts int, err error) {
	if m.Topic == b.cfg.deadTopic {
		b.stats.deadDropped.Add(1)
		return
	}
	dl := b.newMessage(b.cfg.deadTopic, m.Payload, deadMetadata(m, group, attempts, err))
	b.stats.deadLettered.Add(1)
	_ = b.dispatch(context.Background(), dl, false)
}

// Unsubscribe implements Subscription.
func (s *memSub) Unsubscribe() error {
	b := s.b
	b.mu.Lock()
	if s.ended {
		b.mu.Unlock()
		return ErrClosed
	}
	b.detach(s)
	b.mu.Unlock()
	close(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return drainAll(ctx, []*memSub{s})
}

// detach removes s from its queue, retiring the queue with its last
// member. b.mu is held.
func (b *Memory) detach(s *memSub) {
	s.ended = true
	delete(b.subs, s)
	q := s.q
	for i, x := range q.members {
		if x == s {
			q.members = append(q.members[:i], q.members[i+1:]...)
			break
		}
	}
	if len(q.members) == 0 {
		b.router.remove(q.pattern, q)
		if q.group != "" {
			delete(b.groups, q.group)
		}
		close(q.gone)
		s.drain = true
	}
}

func (s *memSub) waitGoroutines() { s.wg.Wait() }
func (s *memSub) cancelHandlers() { s.cancel() }

// Close implements Bus: Shutdown bounded by the drain timeout.
func (b *Memory) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return b.Shutdown(ctx)
}

// Shutdown stops the bus: Publish and Subscribe fail with ErrClosed from
// now on; every subscription's queued and in-flight messages are handled
// until ctx is done, after which handlers' contexts are cancelled, the
// remaining queued messages dropped, and Shutdown returns an error
// wrapping ErrDrainTimeout at most shutdownGrace (10ms) after ctx ended.
// Every goroutine of the bus has stopped when it returns, except workers
// whose handler was still running when ctx ended (they stop as soon as it
// returns). Calling it again returns nil.
func (b *Memory) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.closing.Store(true)
	subs := make([]*memSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	for _, s := range subs {
		b.detach(s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		close(s.stop)
	}
	return drainAll(ctx, subs)
}
