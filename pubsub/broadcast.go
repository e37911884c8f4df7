package pubsub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
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
// message).
type Broadcast struct {
	client    redis.UniversalClient
	mem       *Memory
	prefix    string // channel = prefix + topic
	published atomic.Uint64

	mu      sync.Mutex
	ps      *redis.PubSub
	done    chan struct{}
	closing atomic.Bool
}

var _ Bus = (*Broadcast)(nil)

// NewBroadcast returns a broadcast bus on c. Options: the DeliveryOptions,
// WithClock, WithDrainTimeout, WithDeadLetterTopic, WithPrefix and
// WithNamespace (channels are prefix + namespace + ":" + topic); others are
// an error wrapping ErrInvalidConfig. It makes no Redis call.
func NewBroadcast(c redis.UniversalClient, opts ...Option) (*Broadcast, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	cfg, err := applyBusOptions(opts)
	if err != nil {
		return nil, err
	}
	for _, name := range cfg.setRedis {
		if name != "WithPrefix" && name != "WithNamespace" {
			return nil, fmt.Errorf("%w: %s does not apply to a broadcast bus", ErrInvalidConfig, name)
		}
	}
	return &Broadcast{client: c, mem: newMemory(cfg, nil), prefix: cfg.prefix + cfg.namespace + ":"}, nil
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
// the message to the processes subscribed now.
func (b *Broadcast) Publish(ctx context.Context, topic string, payload []byte) error {
	return b.PublishMessage(ctx, &Message{Topic: topic, Payload: payload})
}

// PublishMessage publishes m.Topic, m.Payload and m.Metadata.
func (b *Broadcast) PublishMessage(ctx context.Context, m *Message) error {
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
	if err := b.client.Publish(ctx, b.prefix+m.Topic, body).Err(); err != nil {
		return fmt.Errorf("pubsub: broadcast %s: %w", m.Topic, err)
	}
	b.published.Add(1)
	return nil
}

// Subscribe implements Bus. The first subscription starts the process's
// PSUBSCRIBE and returns once Redis confirmed it.
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
	if b.ps != nil {
		return nil
	}
	ps := b.client.PSubscribe(ctx)
	if err := ps.PSubscribe(ctx, b.prefix+"*"); err != nil {
		_ = ps.Close()
		return fmt.Errorf("pubsub: psubscribe: %w", err)
	}
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		_ = ps.Close()
		return fmt.Errorf("pubsub: psubscribe: %w", err)
	}
	b.ps, b.done = ps, make(chan struct{})
	go b.read(ps)
	return nil
}

func (b *Broadcast) read(ps *redis.PubSub) {
	defer close(b.done)
	ctx := context.Background()
	for {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			if b.closing.Load() || errors.Is(err, redis.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // go-redis reconnects and resubscribes
			continue
		}
		topic, ok := strings.CutPrefix(msg.Channel, b.prefix)
		if !ok || ValidateTopic(topic) != nil {
			continue
		}
		m := &Message{Topic: topic}
		head, payload, found := strings.Cut(msg.Payload, "\n")
		var wh wireHeader
		if !found || json.Unmarshal([]byte(head), &wh) != nil {
			continue // not ours
		}
		m.ID, m.Metadata, m.PublishedAt = wh.ID, wh.Meta, time.UnixMilli(wh.TS)
		m.Payload = bytes.Clone([]byte(payload))
		_ = b.mem.dispatch(ctx, m, true)
	}
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
	b.mu.Lock()
	ps, done := b.ps, b.done
	b.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
		<-done
	}
	return b.mem.Shutdown(ctx)
}
