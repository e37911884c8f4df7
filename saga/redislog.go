package saga

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
	//go:embed lua/claim.lua
	claimLua string
	//go:embed lua/append.lua
	appendLua string
	//go:embed lua/load.lua
	loadLua string
	//go:embed lua/abandoned.lua
	abandonedLua string

	claimScript     = redis.NewScript(claimLua)
	appendScript    = redis.NewScript(appendLua)
	loadScript      = redis.NewScript(loadLua)
	abandonedScript = redis.NewScript(abandonedLua)
)

// RedisLog is a Log in Redis, shared by every process of a fleet: what one
// process logged, another can Recover after it dies. Each call is one Lua
// script, one round trip, atomic on the server; leases are timed by the
// server's clock (TIME), so app servers with skewed clocks agree on them.
//
// Keys, for saga name S, id I and prefix P (WithPrefix, default DefaultPrefix):
//
//	P{S:n}:h:I   hash: status, fencing token, lease expiry as of the last Claim or Renew
//	P{S:n}:e:I   list: the saga's entries, JSON
//	P{S:n}:run   sorted set: the shard's running sagas by lease expiry
//
// The index's score is the lease that counts: every write extends it.
// The hash's copy is extended by Claim and Renew only (a heartbeat renews
// within a third of a lease), so a step's write is one command shorter,
// and a process of an earlier version, which reads the hash's copy, still
// never takes over a live saga.
//
// where n = FNV-1a(I) mod the shard count (WithShards, default DefaultShards). The
// hash tag {S:n} puts a saga's keys and its index shard in one hash slot,
// so every transition updates both in one single-slot script, on Redis
// Cluster too; the shards spread one saga's executions over DefaultShards slots,
// which a cluster spreads over its masters. Recover reads the shards one
// by one (ZRANGEBYSCORE over the expired leases), each on the master that
// owns its slot.
//
// S never holds a brace or '/' (New and every call of the log refuse
// one, with ErrInvalidConfig), so the log, never a name, chooses the hash
// tag, and one saga's name cannot reach another's keys. I may hold any
// bytes: it follows the tag and a fixed marker, where a brace is inert.
//
// Lifecycle: a running saga's keys have no TTL (dropping them would lose
// what must be compensated); its index entry goes when it finishes, and
// its keys expire after the retention period (WithRetention, default
// DefaultRetention). A running saga whose processes are all gone stays until some
// process calls Recover.
//
// Failures: every call returns within WithTimeout (default
// DefaultTimeout) or the caller's ctx deadline, whichever is sooner, on
// every client, whether or not it was built with ContextTimeoutEnabled. A
// call that timed out has an unknown outcome (a frozen Redis applies it
// when it resumes): Execute then stops before the next action, with Status
// Running, and Recover finishes the saga from whatever the log holds once
// its lease expires. A Redis out of memory refuses every write, so sagas
// stop the same way and are recovered once it has room again.
//
// Persistence: the log is as durable as Redis. With appendonly yes and
// appendfsync always, a restarted Redis holds every transition it
// acknowledged, and Recover finishes every saga a crash interrupted. A
// Redis restarted without persistence, or flushed, loses every record: a
// running saga's done steps stay done, uncompensated (a process still
// driving one stops with an error wrapping ErrNotFound; Recover no longer
// sees it), and a finished saga's id runs again if executed again
// (idempotent steps, see StepKey, make that harmless). The log keeps
// working on the empty Redis at once.
type RedisLog struct {
	client    redis.UniversalClient
	bound     redisx.Bound
	prefix    string
	shards    uint32
	retention string // ms
	// retentionArg is retention, boxed once.
	retentionArg any

	// Tests only: take "now" from this clock instead of the server's.
	testNow func() time.Time
}

var _ Log = (*RedisLog)(nil)

// NewRedisLog returns a log on c (a *redis.Client, *redis.ClusterClient or
// failover client). Options: WithPrefix, WithRetention, WithShards,
// WithTimeout, WithoutPipelining. Errors wrap ErrInvalidConfig.
func NewRedisLog(c redis.UniversalClient, opts ...LogOption) (*RedisLog, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	o, err := applyLogOptions(opts)
	if err != nil {
		return nil, err
	}
	l := &RedisLog{
		client:    c,
		bound:     redisx.NewBound(c, o.timeout),
		prefix:    o.prefix,
		shards:    uint32(o.shards),
		retention: strconv.FormatInt(o.retention.Milliseconds(), 10),
	}
	l.retentionArg = l.retention
	if o.unpipelined {
		l.bound = l.bound.WithoutPipelining()
	}
	return l, nil
}

func (l *RedisLog) shardBase(saga string, shard uint32) string {
	return l.prefix + "{" + saga + ":" + strconv.FormatUint(uint64(shard), 10) + "}:"
}

func (l *RedisLog) keys(saga, id string) []string {
	var a redisArgs
	a.reset(l, saga, id)
	return a.keys
}

func (l *RedisLog) now() string {
	if l.testNow == nil {
		return ""
	}
	return strconv.FormatInt(l.testNow().UnixMilli(), 10)
}

// nowArg is now, boxed: "" (the server's clock) allocates nothing.
func (l *RedisLog) nowArg() any {
	if l.testNow == nil {
		return emptyArg
	}
	return l.now()
}

func ms(d time.Duration) string {
	m := d.Milliseconds()
	if m < 1 {
		m = 1
	}
	return strconv.FormatInt(m, 10)
}

// Claim implements Log.
func (l *RedisLog) Claim(ctx context.Context, saga, id string, lease time.Duration, entries []Entry) (Claim, error) {
	if err := checkLogKey(saga, id); err != nil {
		return Claim{}, err
	}
	var a redisArgs
	a.reset(l, saga, id)
	return l.claim(ctx, saga, id, &a, ms(lease), entries, false)
}

// claim is Claim with the saga's keys and arguments in a (see redisArgs),
// the lease in ms, boxed; trusted as for redisArgs.encode.
func (l *RedisLog) claim(ctx context.Context, saga, id string, a *redisArgs, lease any, entries []Entry, trusted bool) (Claim, error) {
	a.args = append(a.args[:0], l.nowArg(), lease, a.id, finalStatusArg(entries), l.retentionArg)
	if err := a.encode(entries, trusted); err != nil {
		return Claim{}, err
	}
	reply, err := l.bound.Eval(ctx, l.client, claimScript, a.keys, a.args, nil).Slice()
	if err != nil {
		return Claim{}, fmt.Errorf("saga: redis log: claim %s/%s: %w", saga, id, err)
	}
	if len(reply) == 0 {
		return Claim{}, errBadReply
	}
	code, _ := reply[0].(int64)
	switch code {
	case 0:
		return Claim{}, fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
	case 1:
		return Claim{Token: 1, Created: true}, nil
	case 3:
		left := int64(0)
		if len(reply) > 1 {
			left, _ = reply[1].(int64)
		}
		return Claim{}, fmt.Errorf("%w: saga %s/%s (lease for %s more)", ErrRunning, saga, id, time.Duration(left)*time.Millisecond)
	case 2, 4:
		if len(reply) != 4 {
			return Claim{}, errBadReply
		}
		tok, _ := reply[1].(int64)
		rec, err := decodeRecord(saga, id, reply[2], reply[3])
		if err != nil {
			return Claim{}, err
		}
		return Claim{Token: tok, Record: rec}, nil
	}
	return Claim{}, errBadReply
}

var errBadReply = errors.New("saga: redis log: malformed script reply")

func (l *RedisLog) write(ctx context.Context, saga, id string, token int64, lease time.Duration, entries []Entry) error {
	if err := checkLogKey(saga, id); err != nil {
		return err
	}
	var a redisArgs
	a.reset(l, saga, id)
	return l.writeWith(ctx, saga, id, &a, token, ms(lease), entries, false)
}

// writeWith is write with the saga's keys and arguments in a, as claim.
func (l *RedisLog) writeWith(ctx context.Context, saga, id string, a *redisArgs, token int64, lease any, entries []Entry, trusted bool) error {
	a.args = append(a.args[:0], l.nowArg(), lease, a.id, a.tokenArg(token), finalStatusArg(entries), l.retentionArg)
	if err := a.encode(entries, trusted); err != nil {
		return err
	}
	code, err := l.bound.Eval(ctx, l.client, appendScript, a.keys, a.args, nil).Int64()
	if err != nil {
		return fmt.Errorf("saga: redis log: write %s/%s: %w", saga, id, err)
	}
	switch code {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
	case 2:
		return fmt.Errorf("%w: saga %s/%s", ErrFinished, saga, id)
	case 3:
		return fmt.Errorf("%w: saga %s/%s: token %d is not current", ErrLeaseLost, saga, id, token)
	}
	return errBadReply
}

// Append implements Log.
func (l *RedisLog) Append(ctx context.Context, saga, id string, token int64, lease time.Duration, entries []Entry) error {
	return l.write(ctx, saga, id, token, lease, entries)
}

// Renew implements Log.
func (l *RedisLog) Renew(ctx context.Context, saga, id string, token int64, lease time.Duration) error {
	return l.write(ctx, saga, id, token, lease, nil)
}

// Load implements Log.
func (l *RedisLog) Load(ctx context.Context, saga, id string) (*Record, error) {
	if err := checkLogKey(saga, id); err != nil {
		return nil, err
	}
	reply, err := l.bound.Eval(ctx, l.client, loadScript, l.keys(saga, id)[:2], nil, nil).Slice()
	if err != nil {
		return nil, fmt.Errorf("saga: redis log: load %s/%s: %w", saga, id, err)
	}
	if len(reply) == 0 {
		return nil, fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
	}
	if len(reply) != 2 {
		return nil, errBadReply
	}
	return decodeRecord(saga, id, reply[0], reply[1])
}

// Abandoned implements Log. It reads the index shards in turn.
func (l *RedisLog) Abandoned(ctx context.Context, saga string, max int) ([]string, error) {
	if err := checkSagaName(saga); err != nil {
		return nil, err
	}
	var ids []string
	for sh := uint32(0); sh < l.shards && len(ids) < max; sh++ {
		keys, args := []string{l.shardBase(saga, sh) + "run"}, []any{l.now(), max - len(ids)}
		got, err := l.bound.Eval(ctx, l.client, abandonedScript, keys, args, nil).StringSlice()
		if err != nil {
			return ids, fmt.Errorf("saga: redis log: abandoned %s shard %d: %w", saga, sh, err)
		}
		ids = append(ids, got...)
	}
	return ids, nil
}
