package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a durable, at-least-once Bus on Redis Streams, routed like an
// AMQP topic exchange: every group is a stream with a consumer group,
// bound to a pattern in a registry; Publish appends the message to the
// stream of every group whose pattern matches, in one script. See the
// package doc for keys, cluster slots and trade-offs.
type Redis struct {
	client redis.UniversalClient
	cfg    busConfig

	base     string // prefix + "{namespace}:"
	regKey   string
	verKey   string
	ephKey   string
	deadKey  string
	idBase   string
	hostName string
	seq      atomic.Uint64
	stats    counters

	routes   atomic.Pointer[routes]
	reloadMu sync.Mutex

	closing atomic.Bool
	mu      sync.Mutex
	closed  bool
	subs    map[*redisSub]struct{}
}

var _ Bus = (*Redis)(nil)

// routes is a snapshot of the binding registry: a trie from patterns to
// group stream keys, and the registry version it reflects.
type routes struct {
	version string
	r       router[string]
}

// NewRedis returns a durable bus on c (a *redis.Client, *redis.ClusterClient
// or failover client). Options: the DeliveryOptions except WithQueueSize and
// WithOverflow (Redis holds the backlog), WithClock, WithDrainTimeout,
// WithDeadLetterTopic, WithPrefix, WithNamespace, WithMaxLen,
// WithVisibilityTimeout, WithReadBlock, WithBatch, WithTimeout. Errors wrap
// ErrInvalidConfig. It makes no Redis call.
func NewRedis(c redis.UniversalClient, opts ...Option) (*Redis, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	cfg, err := applyBusOptions(opts)
	if err != nil {
		return nil, err
	}
	if cfg.setQueue || cfg.setOverflow {
		return nil, fmt.Errorf("%w: WithQueueSize and WithOverflow apply to memory queues; a Redis group's backlog is its stream (WithMaxLen)", ErrInvalidConfig)
	}
	b := &Redis{client: c, cfg: cfg, subs: make(map[*redisSub]struct{})}
	b.base = cfg.prefix + "{" + cfg.namespace + "}:"
	b.regKey, b.verKey, b.ephKey, b.deadKey = b.base+"reg", b.base+"ver", b.base+"eph", b.base+"dead"
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	b.idBase = hex.EncodeToString(rnd[:]) + "-"
	host, _ := os.Hostname()
	b.hostName = host + "-" + strconv.Itoa(os.Getpid())
	return b, nil
}

// Stats returns this bus's counters (this process only).
func (b *Redis) Stats() Stats { return b.stats.snapshot() }

func (b *Redis) streamKey(group string) string { return b.base + "s:" + group }

func (b *Redis) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.cfg.timeout)
}

// Publish implements Bus: it returns once the message is in the stream of
// every group bound to a matching pattern.
func (b *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	return b.PublishMessage(ctx, &Message{Topic: topic, Payload: payload})
}

// PublishMessage publishes m.Topic, m.Payload and m.Metadata; the bus sets
// the other fields.
func (b *Redis) PublishMessage(ctx context.Context, m *Message) error {
	if b.closing.Load() {
		return ErrClosed
	}
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	id := b.idBase + strconv.FormatUint(b.seq.Add(1), 10)
	fields, err := encodeFields(id, m.Topic, m.Payload, m.Metadata, b.cfg.now())
	if err != nil {
		return err
	}
	if err := b.route(ctx, m.Topic, nil, fields); err != nil {
		return fmt.Errorf("pubsub: publish %s: %w", m.Topic, err)
	}
	b.stats.published.Add(1)
	return nil
}

// route runs the publish script (dead nil) or the dead-letter script
// (dead = {stream, group, entry id}) with the streams the registry routes
// topic to, re-routing when the registry changed meanwhile. For dead
// letters it reports whether the entry was still pending.
func (b *Redis) route(ctx context.Context, topic string, dead []string, fields []any) error {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	for try := 0; try < 20; try++ {
		if try >= 3 { // subscriptions are churning: let them settle
			if !sleep(time.Duration(try)*100*time.Microsecond, ctx.Done()) {
				return ctx.Err()
			}
		}
		rt, err := b.currentRoutes(ctx)
		if err != nil {
			return err
		}
		var buf [8]string
		streams := rt.r.match(topic, buf[:0])
		var res int64
		if dead == nil {
			keys := append(make([]string, 0, 1+len(streams)), b.verKey)
			keys = append(keys, streams...)
			args := append(make([]any, 0, 2+len(fields)), rt.version, b.cfg.maxLen)
			res, err = publishScript.Run(ctx, b.client, keys, append(args, fields...)...).Int64()
		} else {
			keys := append(make([]string, 0, 3+len(streams)), b.verKey, dead[0], b.deadKey)
			keys = append(keys, streams...)
			args := append(make([]any, 0, 4+len(fields)), rt.version, dead[1], dead[2], b.cfg.maxLen)
			res, err = deadScript.Run(ctx, b.client, keys, append(args, fields...)...).Int64()
		}
		if err != nil {
			return err
		}
		if res != -1 {
			return nil
		}
		b.invalidate(rt)
	}
	return errors.New("the group registry kept changing; try again")
}

func (b *Redis) invalidate(rt *routes) { b.routes.CompareAndSwap(rt, nil) }

// currentRoutes returns the cached registry, loading it if there is none.
func (b *Redis) currentRoutes(ctx context.Context) (*routes, error) {
	if rt := b.routes.Load(); rt != nil {
		return rt, nil
	}
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	if rt := b.routes.Load(); rt != nil {
		return rt, nil
	}
	vals, err := loadScript.Run(ctx, b.client, []string{b.regKey, b.verKey}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("loading the group registry: %w", err)
	}
	if len(vals) == 0 || len(vals)%2 != 1 {
		return nil, errors.New("pubsub: malformed registry reply")
	}
	rt := &routes{version: vals[0]}
	bindings := make(map[string][]string, len(vals)/2)
	for i := 1; i < len(vals); i += 2 {
		if ValidatePattern(vals[i+1]) == nil {
			bindings[vals[i+1]] = append(bindings[vals[i+1]], b.streamKey(vals[i]))
		}
	}
	rt.r.replace(bindings)
	b.routes.Store(rt)
	return rt, nil
}

// encodeFields lays a message out as stream entry fields.
func encodeFields(id, topic string, payload []byte, md map[string]string, at time.Time) ([]any, error) {
	f := make([]any, 0, 10)
	f = append(f, "id", id, "topic", topic, "payload", payload, "ts", at.UnixMilli())
	if len(md) > 0 {
		j, err := json.Marshal(md)
		if err != nil {
			return nil, fmt.Errorf("pubsub: encoding metadata: %w", err)
		}
		f = append(f, "meta", j)
	}
	return f, nil
}

// decodeFields reads a stream entry's fields back into a Message.
func decodeFields(get func(string) (string, bool)) (*Message, error) {
	m := &Message{}
	var ok bool
	if m.ID, ok = get("id"); !ok {
		return nil, errors.New("pubsub: stream entry without id")
	}
	if m.Topic, ok = get("topic"); !ok {
		return nil, errors.New("pubsub: stream entry without topic")
	}
	p, _ := get("payload")
	m.Payload = []byte(p)
	if ts, ok := get("ts"); ok {
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil {
			m.PublishedAt = time.UnixMilli(n)
		}
	}
	if j, ok := get("meta"); ok && j != "" {
		if err := json.Unmarshal([]byte(j), &m.Metadata); err != nil {
			return nil, fmt.Errorf("pubsub: stream entry metadata: %w", err)
		}
	}
	return m, nil
}

// Subscribe implements Bus. With WithGroup the group is durable: bound
// until DeleteGroup, its messages wait in Redis while no member runs.
// Without, the subscription gets an ephemeral group of its own, unbound
// (and its stream deleted) by Unsubscribe or Close, or, if the process
// dies, by any bus of the namespace once its lease (three heartbeats) has
// expired. Options: WithGroup, WithConsumer, WithWorkers, WithMaxAttempts,
// WithBackoff.
func (b *Redis) Subscribe(ctx context.Context, pattern string, h Handler, opts ...SubscribeOption) (Subscription, error) {
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
	if sc.setQueue || sc.setOverflow {
		return nil, fmt.Errorf("%w: WithQueueSize and WithOverflow apply to memory queues", ErrInvalidConfig)
	}
	if strings.HasPrefix(sc.group, "~") {
		return nil, fmt.Errorf("%w: group names starting with '~' are reserved", ErrInvalidConfig)
	}
	if b.closing.Load() {
		return nil, ErrClosed
	}
	pattern = normalizePattern(pattern)
	s := newRedisSub(b, pattern, h, sc)
	lease := ""
	if s.ephemeral {
		lease = strconv.FormatInt(s.lease().Milliseconds(), 10)
	}
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	res, err := bindScript.Run(cctx, b.client, []string{b.regKey, b.verKey, s.stream, b.ephKey}, s.group, pattern, lease).Slice()
	if err != nil {
		return nil, fmt.Errorf("pubsub: binding %s: %w", s.group, err)
	}
	if len(res) == 2 && res[0] == int64(0) {
		return nil, fmt.Errorf("%w: group %s is bound to %v, not %s", ErrGroupBound, s.group, res[1], pattern)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.unbind()
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	s.start()
	return s, nil
}

// DeleteGroup unbinds a durable group and deletes its stream with every
// message in it. Its running members stop receiving (they poll, idle,
// until a Subscribe binds the group again); use it when a group is
// retired or must be re-bound to another pattern.
func (b *Redis) DeleteGroup(ctx context.Context, group string) error {
	if err := validateGroup(group); err != nil {
		return err
	}
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	return unbindScript.Run(ctx, b.client, []string{b.regKey, b.verKey, b.streamKey(group), b.ephKey}, group).Err()
}

// reapBatch bounds how many expired ephemeral groups one reap removes.
const reapBatch = 100

// reap unbinds the ephemeral groups of processes that died (their lease
// expired by the server's clock) and deletes their streams: one script
// lists them, then one per group removes it, so that every script
// declares the keys it touches.
func (b *Redis) reap(ctx context.Context) error {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	gone, err := expiredScript.Run(ctx, b.client, []string{b.ephKey}, reapBatch).StringSlice()
	if err != nil {
		return err
	}
	for _, g := range gone {
		if validateGroup(g) != nil {
			// Not ours to build a key from: drop the lease only.
			err = errors.Join(err, b.client.ZRem(ctx, b.ephKey, g).Err())
			continue
		}
		err = errors.Join(err, reapScript.Run(ctx, b.client, []string{b.regKey, b.verKey, b.ephKey, b.streamKey(g)}, g).Err())
	}
	return err
}

// Close implements Bus: Shutdown bounded by the drain timeout.
func (b *Redis) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return b.Shutdown(ctx)
}

// Shutdown stops the bus: readers stop fetching, in-flight handlers run to
// completion until ctx is done (then their contexts are cancelled; their
// messages stay pending in Redis and are redelivered), ephemeral groups
// are unbound, and every goroutine of the bus stops. The client is not
// closed. Calling it again returns nil.
func (b *Redis) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.closing.Store(true)
	subs := make([]*redisSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
		s.ended = true
	}
	b.subs = nil
	b.mu.Unlock()
	return stopRedisSubs(ctx, subs)
}

type redisClient = redis.UniversalClient
