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
//
// A memory group lives as long as it has members: it retires with its
// last member (Unsubscribe, or the end of its Subscribe context), which
// drains its queue first, and the messages published after that reach
// nobody in that group; a later Subscribe with the group's name starts a
// new group, bound to whatever pattern it gives. DeclareGroup makes a
// group that keeps messages before its first member comes.
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
// has no error: a bad option value (an error wrapping ErrInvalidConfig)
// makes every method of the bus return that error, and ConfigErr reports
// it at once. An option that does not fit a memory bus does not compile.
func NewMemory(opts ...MemoryOption) *Memory {
	cfg, err := applyOptions(opts, MemoryOption.applyMemory)
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
			if err := q.put(ctx, m, block, b); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Subscribe implements Bus. Options: WithGroup and the DeliveryOptions and
// QueueOptions; WithConsumer is an error wrapping ErrInvalidConfig.
//
// The subscription ends when ctx ends, as if Unsubscribe were called then
// (a Subscribe given a request's context ends with the request: give it
// one that lives as long as the subscription should); Unsubscribe after
// that waits for the end and returns nil.
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
	s, err := b.subscribe(normalizePattern(pattern), h, sc)
	if err != nil {
		return nil, err
	}
	s.endWith(ctx)
	return s, nil
}

func (b *Memory) subscribe(pattern string, h Handler, sc subConfig) (*memSub, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	q, err := b.groupQueue(sc.group, pattern, sc.delivery)
	if err != nil {
		return nil, err
	}
	s := newMemSub(b, q, h, sc.delivery)
	q.members = append(q.members, s)
	b.subs[s] = struct{}{}
	s.start(sc.workers)
	return s, nil
}

// groupQueue returns the queue of group (a new one for a plain
// subscription), making and routing it if there is none. b.mu is held.
func (b *Memory) groupQueue(group, pattern string, d delivery) (*queue, error) {
	if group != "" {
		if q := b.groups[group]; q != nil {
			if q.pattern != pattern {
				return nil, fmt.Errorf("%w: group %s is bound to %s, not %s", ErrGroupBound, group, q.pattern, pattern)
			}
			return q, nil
		}
	}
	q := &queue{ch: make(chan *Message, d.queueSize), policy: d.overflow, gone: make(chan struct{}),
		pattern: pattern, group: group}
	b.router.add(pattern, q)
	if group != "" {
		b.groups[group] = q
	}
	return q, nil
}

// DeclareGroup makes group, bound to pattern, before any member
// subscribes: it keeps the messages published from now on until members
// come, up to its queue size, with the bus's WithQueueSize and
// WithOverflow (by default DefaultQueueSize and OverflowBlock, so a full
// group without members makes Publish wait until its ctx ends). A group
// that exists already with pattern is left as it is; with another pattern
// it is an error wrapping ErrGroupBound. Once it has had members, the
// group retires with the last of them, as any memory group does.
func (b *Memory) DeclareGroup(ctx context.Context, group, pattern string) error {
	if b.err != nil {
		return b.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := validateGroup(group); err != nil {
		return fmt.Errorf("%w: DeclareGroup: %w", ErrInvalidConfig, err)
	}
	if err := ValidatePattern(pattern); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	_, err := b.groupQueue(group, normalizePattern(pattern), b.cfg.delivery)
	return err
}

// deadLetter publishes a dead letter of m, which group's handler failed
// attempts times, never waiting for room.
func (b *Memory) deadLetter(m *Message, group string, attempts int, err error) {
	if m.Topic == b.cfg.deadTopic {
		b.stats.deadDropped.Add(1)
		b.cfg.emit(Event{Kind: EventDeadDropped, Topic: m.Topic, Group: group, MessageID: m.ID, Attempt: attempts, Err: err})
		return
	}
	dl := b.newMessage(b.cfg.deadTopic, m.Payload, deadMetadata(m, group, attempts, err))
	b.stats.deadLettered.Add(1)
	b.cfg.emit(Event{Kind: EventDeadLettered, Topic: m.Topic, Group: group, MessageID: m.ID, Attempt: attempts, Err: err})
	_ = b.dispatch(context.Background(), dl, false)
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
		b.retire(q)
		s.drain = true
	}
}

// retire unroutes q and wakes publishers waiting for its room. b.mu is
// held.
func (b *Memory) retire(q *queue) {
	b.router.remove(q.pattern, q)
	if q.group != "" && b.groups[q.group] == q {
		delete(b.groups, q.group)
	}
	close(q.gone)
}

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
// A handler may return ErrHandBack once Stopping(ctx) is closed: its
// message is dropped (no member is left to take it) and counted in
// Stats.Abandoned. Every goroutine of the bus has stopped when it
// returns, except workers whose handler was still running when ctx ended
// (they stop as soon as it returns). Calling it again returns nil.
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
	for _, q := range b.groups { // declared, without members
		b.retire(q)
	}
	stopFollowing := make([]func() bool, len(subs))
	for i, s := range subs {
		stopFollowing[i] = s.stopFollowingCtx
	}
	b.mu.Unlock()
	for i, s := range subs {
		stopFollowing[i]()
		s.stopFn()
	}
	return drainAll(ctx, subs)
}

var _ GroupDeclarer = (*Memory)(nil)
