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

	"github.com/sysdesign/patterns/internal/backoff"
	"github.com/sysdesign/patterns/internal/redisx"
)

// Redis is a durable, at-least-once Bus on Redis Streams, routed like an
// AMQP topic exchange: every group is a stream with a consumer group,
// bound to a pattern in a registry; Publish appends the message to the
// stream of every group whose pattern matches, in one script. See the
// package doc for keys, cluster slots, faults and trade-offs.
type Redis struct {
	client    redis.UniversalClient
	cfg       busConfig
	readBound redisx.Bound // one blocking read: the read block plus the timeout
	callBound redisx.Bound // one call: the timeout (made once: NewBound looks the client's coalescer up)
	maxLenArg any          // cfg.maxLen, boxed once for the publish script

	base     string // prefix + "{namespace}:"
	regKey   string
	verKey   string
	ephKey   string
	deadKey  string
	idBase   string
	hostName string
	seq      atomic.Uint64
	stats    counters

	reg      registry          // the cached binding registry (redis_routes.go)
	local    router[*redisSub] // this bus's running subscriptions, by pattern
	reapHold atomic.Int64      // no reaping before this time (unix ns; redis_reap.go)
	detached atomic.Bool       // a consumer's call failed since Redis last answered (redis_link.go)

	closing atomic.Bool
	mu      sync.Mutex
	closed  bool
	subs    map[*redisSub]struct{}
}

var _ Bus = (*Redis)(nil)

// NewRedis returns a durable bus on c (a *redis.Client, *redis.ClusterClient
// or failover client). Options: the BusOptions and DeliveryOptions,
// WithPrefix, WithNamespace, WithTimeout, WithMaxLen,
// WithVisibilityTimeout, WithReadBlock, WithBatch (there are no queues to
// size: a group's backlog is its stream). Errors wrap ErrInvalidConfig. It
// makes no Redis call.
func NewRedis(c redis.UniversalClient, opts ...RedisOption) (*Redis, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	cfg, err := applyOptions(opts, RedisOption.applyRedis)
	if err != nil {
		return nil, err
	}
	b := &Redis{client: c, cfg: cfg, subs: make(map[*redisSub]struct{}),
		readBound: redisx.NewBound(c, cfg.readBlock+cfg.timeout), maxLenArg: cfg.maxLen}
	b.callBound = b.boundOf(cfg.timeout)
	b.base = cfg.prefix + redisx.Tag(cfg.namespace) + ":"
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
func (b *Redis) leaseKey(group string) string  { return b.base + "lease:" + group }

// bound limits one call to the bus's timeout.
func (b *Redis) bound() redisx.Bound { return b.callBound }

// boundOf limits one call to d, pipelined with the client's other calls
// unless WithoutPipelining said otherwise.
func (b *Redis) boundOf(d time.Duration) redisx.Bound {
	bound := redisx.NewBound(b.client, d)
	if b.cfg.unpipelined {
		bound = bound.WithoutPipelining()
	}
	return bound
}

// remaining is left for an operation whose first Redis call was made at
// *start, or, when *start is zero, for its first call, whose time it
// notes: the operation's timeout runs from its first call.
func (b *Redis) remaining(start *time.Time) (redisx.Bound, error) {
	if start.IsZero() {
		*start = time.Now()
		return b.callBound, nil
	}
	return b.left(*start)
}

// left limits a call that is part of an operation started at start to
// what remains of the operation's timeout, so that the operation as a
// whole (a publish may reload the registry, then write) keeps within it.
func (b *Redis) left(start time.Time) (redisx.Bound, error) {
	rest := b.cfg.timeout - time.Since(start)
	if rest <= 0 {
		return redisx.Bound{}, context.DeadlineExceeded
	}
	return b.boundOf(rest), nil
}

// Publish implements Bus: it returns once the message is in the stream of
// every group bound to a matching pattern, within WithTimeout (or ctx's
// deadline).
//
// It returns an error wrapping ErrNoBinding, having stored nothing, when a
// subscription that must receive the message has no binding in Redis:
//   - a plain subscription of this bus whose pattern matches (it was
//     reaped after being cut off from Redis for a whole lease, or Redis
//     lost its data), until it is bound again (it rebinds by itself);
//   - a group of this bus whose pattern matches, when the registry has
//     lost its data since the group was bound (its version's epoch
//     changed), until the group is bound again;
//   - a group, of any process, that this bus's copy of the registry
//     routed the topic to before Redis lost the registry, until it is
//     bound again or for at most twice the read block plus the timeout
//     after the loss was noticed (the time a running member takes to
//     notice and bind again; a group with no running member is then
//     presumed gone with Redis's data).
//
// A timeout (or a Redis error) leaves the outcome unknown: the message may
// have been stored. A retry stores it again, under a new ID.
func (b *Redis) Publish(ctx context.Context, topic string, payload []byte) error {
	return b.PublishMessage(ctx, &Message{Topic: topic, Payload: payload})
}

// PublishMessage publishes m.Topic, m.Payload and m.Metadata; the bus sets
// the other fields. It fails as Publish does; a nil m is an error wrapping
// ErrInvalidConfig.
func (b *Redis) PublishMessage(ctx context.Context, m *Message) error {
	if m == nil {
		return errNilMessage
	}
	if b.closing.Load() {
		return ErrClosed
	}
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	id := b.idBase + strconv.FormatUint(b.seq.Add(1), 10)
	args := make([]any, 2, 2+encodedFields) // the publish script's version and MAXLEN, then the fields
	args, err := appendFields(args, id, m.Topic, m.Payload, m.Metadata, b.cfg.now())
	if err != nil {
		return err
	}
	if err := b.route(ctx, m.Topic, nil, args); err != nil {
		return fmt.Errorf("pubsub: publish %s: %w", m.Topic, err)
	}
	b.stats.published.Add(1)
	return nil
}

// route runs the publish script (dead nil) or the dead-letter script
// (dead = {stream, group, entry id}) with the streams the registry routes
// topic to, re-routing when the registry changed meanwhile, all within
// the bus's timeout. It refuses (ErrNoBinding) to route a message away
// from a group that must get it (see Publish). A publish's args are the
// fields behind two free slots, which route fills.
func (b *Redis) route(ctx context.Context, topic string, dead []string, args []any) error {
	var start time.Time
	for try := 0; try < 20; try++ {
		if try >= 3 { // subscriptions are churning: let them settle
			if err := backoff.Sleep(ctx, time.Duration(try)*100*time.Microsecond); err != nil {
				return err
			}
		}
		rt, loaded, err := b.currentRoutes(ctx, &start)
		if err != nil {
			return err
		}
		var buf [8]string
		streams := rt.r.match(topic, buf[:0])
		group, stale := b.unbound(topic, rt, streams)
		if stale || (group != "" && !loaded) { // the copy may predate the binding: look again
			b.reg.invalidate(rt)
			continue
		}
		if group != "" {
			err := fmt.Errorf("%w: group %s", ErrNoBinding, group)
			b.cfg.emit(Event{Kind: EventNoBinding, Topic: topic, Group: group, Err: err})
			return err
		}
		bound, err := b.remaining(&start)
		if err != nil {
			return err
		}
		var res int64
		if dead == nil {
			keys := append(make([]string, 0, 1+len(streams)), b.verKey)
			keys = append(keys, streams...)
			// Reused by the next try: a try that did not return is over.
			args[0], args[1] = rt.versionArg, b.maxLenArg
			res, err = bound.Eval(ctx, b.client, publishScript, keys, args, nil).Int64()
		} else {
			keys := append(make([]string, 0, 3+len(streams)), b.verKey, dead[0], b.deadKey)
			keys = append(keys, streams...)
			deadArgs := append(make([]any, 0, 4+len(args)), rt.versionArg, dead[1], dead[2], b.maxLenArg)
			res, err = bound.Eval(ctx, b.client, deadScript, keys, append(deadArgs, args[2:]...), nil).Int64()
		}
		if err != nil {
			return err
		}
		if res != -1 {
			return nil
		}
		b.reg.invalidate(rt)
	}
	return errors.New("the group registry kept changing; try again")
}

// encodedFields is how many values appendFields appends at most.
const encodedFields = 10

// appendFields lays a message out as stream entry fields, appended to f.
func appendFields(f []any, id, topic string, payload []byte, md map[string]string, at time.Time) ([]any, error) {
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
func decodeFields(e *entry) (*Message, error) {
	m := &Message{}
	var ok bool
	if m.ID, ok = e.field("id"); !ok {
		return nil, errors.New("pubsub: stream entry without id")
	}
	if m.Topic, ok = e.field("topic"); !ok {
		return nil, errors.New("pubsub: stream entry without topic")
	}
	p, _ := e.field("payload")
	m.Payload = []byte(p)
	if ts, ok := e.field("ts"); ok {
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil {
			m.PublishedAt = time.UnixMilli(n)
		}
	}
	if j, ok := e.field("meta"); ok && j != "" {
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
// run out. Either kind binds itself again if Redis loses it while it runs
// (Stats.Rebinds). Options: WithGroup, WithConsumer, WithWorkers,
// WithMaxAttempts, WithBackoff; WithQueueSize and WithOverflow are an
// error wrapping ErrInvalidConfig. It returns within WithTimeout (or ctx's
// deadline).
//
// The subscription ends when ctx ends, as if Unsubscribe were called then
// (a Subscribe given a request's context ends with the request: give it
// one that lives as long as the subscription should); Unsubscribe after
// that waits for the end and returns nil. A durable group stays bound.
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
	s := newRedisSub(b, normalizePattern(pattern), h, sc)
	res, err := s.bind(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("pubsub: binding %s: %w", s.group, err)
	}
	if res.status == bindElsewhere {
		return nil, fmt.Errorf("%w: group %s is bound to %s, not %s", ErrGroupBound, s.group, res.pattern, s.pattern)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = s.unbind(ctx)
		return nil, ErrClosed
	}
	b.subs[s] = struct{}{}
	b.local.add(s.pattern, s)
	b.mu.Unlock()
	s.start()
	s.endWith(ctx)
	return s, nil
}

// DeclareGroup binds the durable group to pattern without consuming: the
// messages published from now on wait in the group's stream until its
// members come (up to WithMaxLen), however long that takes. A group bound
// to pattern already is left as it is; one bound to another pattern is an
// error wrapping ErrGroupBound. Run it at deploy time, or in publishers
// at start-up, so that nothing published before the first consumer
// starts is lost. If Redis loses its data before a member runs, the
// declaration is lost with it (see Faults in the package doc). It returns
// within WithTimeout (or ctx's deadline).
func (b *Redis) DeclareGroup(ctx context.Context, group, pattern string) error {
	if err := validateGroup(group); err != nil {
		return fmt.Errorf("%w: DeclareGroup: %w", ErrInvalidConfig, err)
	}
	if strings.HasPrefix(group, "~") {
		return fmt.Errorf("%w: group names starting with '~' are reserved", ErrInvalidConfig)
	}
	if err := ValidatePattern(pattern); err != nil {
		return err
	}
	if b.closing.Load() {
		return ErrClosed
	}
	s := &redisSub{b: b, pattern: normalizePattern(pattern), group: group, stream: b.streamKey(group),
		lease: b.leaseKey(group)}
	res, err := s.bind(ctx, "")
	if err != nil {
		return fmt.Errorf("pubsub: declaring %s: %w", group, err)
	}
	if res.status == bindElsewhere {
		return fmt.Errorf("%w: group %s is bound to %s, not %s", ErrGroupBound, group, res.pattern, s.pattern)
	}
	return nil
}

// DeleteGroup unbinds a durable group and deletes its stream with every
// message in it. Its running members stop receiving (they poll, idle,
// until a Subscribe binds the group again); use it when a group is
// retired or must be re-bound to another pattern. If Redis then loses its
// data, running members bind the group again: Unsubscribe them first. It
// returns within WithTimeout (or ctx's deadline).
func (b *Redis) DeleteGroup(ctx context.Context, group string) error {
	if err := validateGroup(group); err != nil {
		return err
	}
	keys := []string{b.regKey, b.verKey, b.streamKey(group), b.ephKey, b.leaseKey(group)}
	return b.bound().Eval(ctx, b.client, unbindScript, keys, []any{group, randHex(8)}, nil).Err()
}

// Close implements Bus: Shutdown bounded by the drain timeout.
func (b *Redis) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return b.Shutdown(ctx)
}

// Shutdown stops the bus: readers stop fetching (a read under way ends
// within the read block), in-flight handlers run to completion until ctx
// is done (then their contexts are
// cancelled; their messages stay pending in Redis and become claimable by
// other consumers at once, as do those of handlers that return
// ErrHandBack once Stopping(ctx) is closed),
// then ephemeral groups are unbound and this process's consumers leave
// their durable groups, all within ctx. It returns by ctx's deadline
// (plus at most 10ms for cancelled handlers to return), with an error
// wrapping ErrDrainTimeout when handlers were still running, or the
// unbinding's error. When ctx ran out before the unbinding, its groups are
// left to be reaped once their leases run out. Every goroutine of the bus
// has stopped when it returns, except workers whose handler ignores its
// cancelled context, and readers whose read was under way when ctx ran
// out (it ends by itself within the read block plus the timeout; what it
// returns is handed back, or, if the client cut the read at ctx's
// deadline, stays pending until the visibility timeout). Messages read
// but not started when the bus began to stop are handed back at once,
// for another consumer to take without waiting for the visibility
// timeout. Redis calls given up on end by
// the client's read timeout; their results are dropped. The client is
// not closed. Calling it again returns nil.
func (b *Redis) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.closing.Store(true)
	subs := make([]*redisSub, 0, len(b.subs))
	stopFollowing := make([]func() bool, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
		s.ended = true
		stopFollowing = append(stopFollowing, s.stopFollowingCtx)
		b.local.remove(s.pattern, s)
	}
	b.subs = nil
	b.mu.Unlock()
	for _, stop := range stopFollowing {
		stop()
	}
	return stopRedisSubs(ctx, subs)
}

type redisClient = redis.UniversalClient

var _ GroupDeclarer = (*Redis)(nil)
