package cqrs

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

var (
	//go:embed lua/append.lua
	appendLua string
	//go:embed lua/load.lua
	loadLua string
	//go:embed lua/readall.lua
	readAllLua string

	appendScript  = redis.NewScript(appendLua)
	loadScript    = redis.NewScript(loadLua)
	readAllScript = redis.NewScript(readAllLua)
)

// RedisStore is an EventStore in Redis, shared by every process of a
// fleet. Each Append is one Lua script, one round trip, atomic on the
// server: it checks the expected version and the event ids, takes the
// global positions and writes the events, so the global order has no gaps
// and never shows an append in part. AppendBatch sends the appends of
// many streams as one such script call, one round trip, each item atomic
// by itself. Load and ReadAll are one script each.
//
// Group commit: Appends made concurrently on one RedisStore are merged
// into such batch calls. An append that finds fewer than three of the
// store's script calls in flight goes straight out alone (a lone caller
// waits for nothing); the others queue and leave together, as one script
// call, when a call in flight comes back. Each keeps its own result, its
// own bound (WithTimeout or its ctx deadline) and, when it gives up before
// its batch leaves, is not sent at all. WithoutPipelining turns this off.
// RecordedAt comes from the server's clock (TIME).
//
// Keys, for prefix P (WithPrefix, default "cqrs:") and T = P without its
// trailing ':':
//
//	P{T}:seq          string: the last global position
//	P{T}:ev           hash:   position -> event (version, time, stream, type, metadata, data)
//	P{T}:s:<stream>   list:   the stream's positions; its length is the stream's version
//	P{T}:id:<stream>  hash:   event id -> version (only for streams appended to with ids)
//	P{T}:tail         stream: an entry per append, id = its last position, that Wait blocks on (XREAD); capped near 100
//
// Every key shares the hash tag {T}, so every script is single-slot and
// works on Redis Cluster — and the whole store lives in one slot, on one
// master: the global order is exact, but the store's write throughput is
// that of one Redis core (tens of thousands of appends/s; see the
// package's README numbers), and its memory that of one node. To scale
// writes further, partition: give each bounded context (or each group of
// streams, chosen by a hash of the stream id) a store of its own, with its
// own prefix; each then sits in its own slot with its own global order,
// and projections that need several read each store's log with a Runner
// and a checkpoint of their own. There is no order across partitions.
//
// Lifecycle: the events are the system of record and have no TTL; the
// store's keys live until deleted (by an operator, or with the prefix's
// data). The tail is trimmed by every append (MAXLEN ~ 100).
//
// Failures: every call returns within WithTimeout (default
// DefaultTimeout) or the caller's ctx deadline, whichever is sooner, on
// every client, with or without ContextTimeoutEnabled. An Append that
// timed out has an unknown outcome (a frozen Redis applies it when it
// resumes): retry it with the same event ids (Event.WithID), which makes
// the retry exact — appended once, whichever way the first try went. A
// Redis out of memory refuses appends whole (Redis refuses a script's
// first write, and nothing else comes before it). A script call that
// fails part-way — a key of the store's turned into another type, the
// tail refusing its entry — takes back every stream entry and id it
// wrote, so no item of it is left in part; a stale expected version
// pushes the stream's positions and trims them back in the same atomic
// step (the check reads the version from RPUSH's reply: one Redis call
// per item on the common path), which only replicas and keyspace
// notifications see.
//
// Persistence: the log is as durable as Redis. With appendonly yes and
// appendfsync always, every append Redis acknowledged survives a crash
// and restart (appendfsync everysec may lose the last second of them). A
// Redis restarted without persistence, or flushed, loses every event:
// positions start again at 1, read models in the same Redis are emptied
// with it and rebuild from the new log, and projections kept elsewhere
// are ahead of the store (Runner reports ErrStoreBehind and rebuilds
// them). The store keeps working on the empty Redis at once.
type RedisStore struct {
	call    caller
	group   *appendGroup // nil: WithoutPipelining
	timeout time.Duration
	wait    redisx.Bound // the block of Wait's XREAD plus the timeout
	base    string
	fixed   [3]string // the keys every append names: seq, ev, tail
	block   time.Duration
	stats   storeStats
}

var (
	_ EventStore = (*RedisStore)(nil)
	_ Waiter     = (*RedisStore)(nil)
	_ Header     = (*RedisStore)(nil)

	_ PositionAppender = (*RedisStore)(nil)
	_ BatchAppender    = (*RedisStore)(nil)
)

// NewRedisStore returns an event store on c (a *redis.Client,
// *redis.ClusterClient or failover client). Options: WithPrefix,
// WithTimeout, WithBlock, WithoutPipelining. Errors wrap ErrInvalidConfig.
func NewRedisStore(c redis.UniversalClient, opts ...Option) (*RedisStore, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: NewRedisStore: nil Redis client", ErrInvalidConfig)
	}
	o, err := applyOptions("NewRedisStore", opts, Option.applyStore)
	if err != nil {
		return nil, err
	}
	s := &RedisStore{call: newCaller(c, o), wait: redisx.NewBound(c, o.block+o.timeout),
		base: tagged(o.prefix, ""), block: o.block, timeout: o.timeout}
	s.fixed = [3]string{s.base + "seq", s.base + "ev", s.base + "tail"}
	if !o.unpipelined {
		if s.group, err = newAppendGroup(s, 0); err != nil {
			return nil, fmt.Errorf("%w: NewRedisStore: %w", ErrInvalidConfig, err)
		}
	}
	return s, nil
}

func (s *RedisStore) seqKey() string  { return s.fixed[0] }
func (s *RedisStore) evKey() string   { return s.fixed[1] }
func (s *RedisStore) tailKey() string { return s.fixed[2] }

// Append implements EventStore.
func (s *RedisStore) Append(ctx context.Context, streamID string, expected int64, events ...Event) (int64, error) {
	a, err := s.AppendWithPosition(ctx, streamID, expected, events...)
	return a.Version, err
}

// AppendWithPosition implements PositionAppender: the position comes
// back from the same script call.
func (s *RedisStore) AppendWithPosition(ctx context.Context, streamID string, expected int64, events ...Event) (Appended, error) {
	a, err := s.append(ctx, streamID, expected, events)
	s.stats.count(len(events), err)
	return a, err
}

func (s *RedisStore) append(ctx context.Context, streamID string, expected int64, events []Event) (Appended, error) {
	if err := checkAppend(streamID, expected, events); err != nil {
		return Appended{}, err
	}
	item := encodeAppend(s.base, &StreamAppend{StreamID: streamID, ExpectedVersion: expected, Events: events})
	if s.group != nil {
		return s.groupAppend(ctx, item)
	}
	return s.appendAlone(ctx, item)
}

// appendAlone runs one append as a script call of its own.
func (s *RedisStore) appendAlone(ctx context.Context, item encodedAppend) (Appended, error) {
	var res [1]AppendResult
	if err := s.appendEncoded(ctx, []encodedAppend{item}, res[:]); err != nil {
		return Appended{}, fmt.Errorf("cqrs: redis store: append to %q: %w", item.streamID, err)
	}
	return res[0].Appended, res[0].Err
}

var errBadReply = errors.New("cqrs: redis store: malformed script reply")

// Load implements EventStore.
func (s *RedisStore) Load(ctx context.Context, streamID string, fromVersion int64) ([]Event, error) {
	if streamID == "" {
		return nil, fmt.Errorf("%w: empty stream id", ErrInvalidArgument)
	}
	if fromVersion < 1 {
		fromVersion = 1
	}
	keys := []string{s.base + "s:" + streamID, s.evKey()}
	reply, err := s.call.eval(ctx, loadScript, keys, fromVersion-1).Slice()
	if err != nil {
		return nil, fmt.Errorf("cqrs: redis store: load %q: %w", streamID, err)
	}
	if len(reply) != 2 {
		return nil, errBadReply
	}
	ps, _ := reply[0].([]any)
	vs, _ := reply[1].([]any)
	if len(ps) != len(vs) {
		return nil, errBadReply
	}
	if len(ps) == 0 {
		return nil, nil
	}
	out := make([]Event, len(vs))
	for i := range vs {
		p, _ := ps[i].(string)
		pos, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			return nil, errBadReply
		}
		v, _ := vs[i].(string)
		if err := decodeValue(v, pos, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReadAll implements EventStore.
func (s *RedisStore) ReadAll(ctx context.Context, fromPosition int64, limit int) ([]Event, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if fromPosition < 1 {
		fromPosition = 1
	}
	keys := []string{s.seqKey(), s.evKey()}
	reply, err := s.call.eval(ctx, readAllScript, keys, fromPosition, limit).Slice()
	if err != nil {
		return nil, fmt.Errorf("cqrs: redis store: read all from %d: %w", fromPosition, err)
	}
	if len(reply) == 0 {
		return nil, nil
	}
	out := make([]Event, len(reply))
	for i, r := range reply {
		v, ok := r.(string)
		if !ok {
			return nil, fmt.Errorf("%w: position %d missing", errBadReply, fromPosition+int64(i))
		}
		if err := decodeValue(v, fromPosition+int64(i), &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Head implements Header.
func (s *RedisStore) Head(ctx context.Context) (int64, error) {
	var head int64
	err := s.call.do(ctx, func(ctx context.Context) error {
		var err error
		head, err = s.call.client.Get(ctx, s.seqKey()).Int64()
		if errors.Is(err, redis.Nil) {
			head, err = 0, nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("cqrs: redis store: head: %w", err)
	}
	return head, nil
}

// Wait implements Waiter with a blocking XREAD on the tail key, which
// every append updates: it returns as soon as an event after position
// after exists, or after the WithBlock interval (default DefaultBlock), or with
// ctx's error once ctx is done. A Redis that does not answer costs it the
// interval plus WithTimeout at most, on every client (go-redis alone
// would wait the interval plus 10s for a blocking read).
func (s *RedisStore) Wait(ctx context.Context, after int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	after = max(after, 0) // like MemoryStore: "-1-0" is no stream id
	block := s.block
	if dl, ok := ctx.Deadline(); ok {
		if d := time.Until(dl); d < block {
			block = max(d, time.Millisecond)
		}
	}
	args := &redis.XReadArgs{
		Streams: []string{s.tailKey(), strconv.FormatInt(after, 10) + "-0"},
		Count:   1,
		Block:   block,
	}
	err := redisx.Run(ctx, s.wait, func(ctx context.Context) error { return s.call.client.XRead(ctx, args).Err() })
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("cqrs: redis store: wait: %w", err)
	}
	return nil
}
