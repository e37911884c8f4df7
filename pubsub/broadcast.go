package pubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Broadcast is a non-durable Bus on Redis Pub/Sub: fire-and-forget fan-out
// to every process, for uses where a missed message does no harm (cache
// invalidation, live dashboards). A message reaches the processes
// subscribed when it is published; one published while a process is
// disconnected never reaches it. Each process PSUBSCRIBEs once to the
// bus's channel prefix and filters with the topic trie (Redis's glob '*'
// would cross dots), then delivers through an in-memory bus: queues,
// workers, retries and dead letters are local, as are groups (the members
// of a group share messages within one process; every process gets every
// message). The subscription is kept by redisx.Listen: a connection that
// fails or stops answering is replaced (messages published meanwhile are
// lost, as with any disconnection).
type Broadcast struct {
	client    redis.UniversalClient
	mem       *Memory
	prefix    string // channel = prefix + topic
	timeout   time.Duration
	published atomic.Uint64

	// ctx ends at Shutdown: a message waiting for room in a full queue is
	// then dropped rather than holding the listener.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	listener *redisx.Listener
	closing  atomic.Bool
	lostOnce atomic.Bool // the subscription was lost and is not back yet
}

var _ Bus = (*Broadcast)(nil)

// NewBroadcast returns a broadcast bus on c. Options: the BusOptions,
// DeliveryOptions and QueueOptions, WithPrefix, WithNamespace (channels
// are prefix + namespace + ":" + topic) and WithTimeout (bounds Publish
// and the first Subscribe). Errors wrap ErrInvalidConfig. It makes no
// Redis call. Its observer also hears EventDetached and EventRejoined
// when the subscription to Redis is lost and back.
func NewBroadcast(c redis.UniversalClient, opts ...BroadcastOption) (*Broadcast, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	cfg, err := applyOptions(opts, BroadcastOption.applyBroadcast)
	if err != nil {
		return nil, err
	}
	b := &Broadcast{client: c, mem: newMemory(cfg, nil), prefix: cfg.prefix + cfg.namespace + ":", timeout: cfg.timeout}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// Stats returns this process's counters: Published counts its Publish
// calls, the rest its deliveries.
func (b *Broadcast) Stats() Stats {
	s := b.mem.Stats()
	s.Published = b.published.Load()
	return s
}

type wireHeader struct {
	ID   string            `json:"id"`
	TS   int64             `json:"ts"`
	Meta map[string]string `json:"m,omitempty"`
}

// Publish implements Bus: one PUBLISH; it returns once Redis has passed
// the message to the processes subscribed now, within WithTimeout (or
// ctx's deadline).
func (b *Broadcast) Publish(ctx context.Context, topic string, payload []byte) error {
	return b.PublishMessage(ctx, &Message{Topic: topic, Payload: payload})
}

// PublishMessage publishes m.Topic, m.Payload and m.Metadata. A nil m is
// an error wrapping ErrInvalidConfig.
func (b *Broadcast) PublishMessage(ctx context.Context, m *Message) error {
	if m == nil {
		return errNilMessage
	}
	if b.closing.Load() {
		return ErrClosed
	}
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	h, err := json.Marshal(wireHeader{ID: b.mem.idBase + fmt.Sprint(b.mem.seq.Add(1)), TS: b.mem.cfg.now().UnixMilli(), Meta: m.Metadata})
	if err != nil {
		return fmt.Errorf("pubsub: encoding metadata: %w", err)
	}
	body := make([]byte, 0, len(h)+1+len(m.Payload))
	body = append(append(append(body, h...), '\n'), m.Payload...)
	err = redisx.Run(ctx, redisx.NewBound(b.client, b.timeout), func(ctx context.Context) error {
		return b.client.Publish(ctx, b.prefix+m.Topic, body).Err()
	})
	if err != nil {
		return fmt.Errorf("pubsub: broadcast %s: %w", m.Topic, err)
	}
	b.published.Add(1)
	return nil
}

// Subscribe implements Bus. The first subscription starts the process's
// PSUBSCRIBE and returns once Redis confirmed it, within WithTimeout (or
// ctx's deadline). Options and the end of ctx are as for Memory.Subscribe.
func (b *Broadcast) Subscribe(ctx context.Context, pattern string, h Handler, opts ...SubscribeOption) (Subscription, error) {
	if b.closing.Load() {
		return nil, ErrClosed
	}
	if err := b.listen(ctx); err != nil {
		return nil, err
	}
	return b.mem.Subscribe(ctx, pattern, h, opts...)
}

func (b *Broadcast) listen(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closing.Load() {
		return ErrClosed
	}
	if b.listener != nil {
		return nil
	}
	l := redisx.Listen(b.client, redisx.ListenConfig{Channels: []string{b.prefix + "*"}, Patterns: true, OnMessage: b.deliver,
		OnLost: b.lost, OnLive: b.live})
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := l.Ready(ctx); err != nil {
		l.Close()
		return fmt.Errorf("pubsub: psubscribe: %w", err)
	}
	b.listener = l
	return nil
}

// lost and live report the subscription to Redis lost and back.
func (b *Broadcast) lost(err error) {
	b.lostOnce.Store(true)
	b.mem.cfg.emit(Event{Kind: EventDetached, Err: err})
}

func (b *Broadcast) live() {
	if b.lostOnce.CompareAndSwap(true, false) {
		b.mem.cfg.emit(Event{Kind: EventRejoined})
	}
}

// deliver hands a message from Redis to the local subscriptions.
func (b *Broadcast) deliver(msg *redis.Message) {
	topic, ok := strings.CutPrefix(msg.Channel, b.prefix)
	if !ok || ValidateTopic(topic) != nil {
		return
	}
	m := &Message{Topic: topic}
	head, payload, found := strings.Cut(msg.Payload, "\n")
	var wh wireHeader
	if !found || json.Unmarshal([]byte(head), &wh) != nil {
		return // not ours
	}
	m.ID, m.Metadata, m.PublishedAt = wh.ID, wh.Meta, time.UnixMilli(wh.TS)
	m.Payload = bytes.Clone([]byte(payload))
	_ = b.mem.dispatch(b.ctx, m, true)
}

// Close implements Bus.
func (b *Broadcast) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.mem.cfg.drainTimeout)
	defer cancel()
	return b.Shutdown(ctx)
}

// Shutdown stops listening, then shuts the local delivery down like
// Memory.Shutdown. Calling it again returns nil.
func (b *Broadcast) Shutdown(ctx context.Context) error {
	if b.closing.Swap(true) {
		return nil
	}
	b.cancel()
	b.mu.Lock()
	l := b.listener
	b.mu.Unlock()
	if l != nil {
		l.Close()
	}
	return b.mem.Shutdown(ctx)
}
