package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

var (
	// The bucket scripts are bucket_decide.lua (the decision both make)
	// followed by their own part: one decision, or several in a loop.
	//go:embed lua/bucket_decide.lua
	bucketDecideLua string
	//go:embed lua/bucket.lua
	bucketOneLua string
	//go:embed lua/bucket_batch.lua
	bucketLoopLua  string
	bucketLua      = bucketDecideLua + bucketOneLua
	bucketBatchLua = bucketDecideLua + bucketLoopLua
	//go:embed lua/fixed_window.lua
	fixedWindowLua string
	//go:embed lua/sliding_counter.lua
	slidingCounterLua string
	//go:embed lua/sliding_log.lua
	slidingLogLua string

	scripts = map[Algorithm]*redis.Script{
		TokenBucket:          redis.NewScript(bucketLua),
		LeakyBucket:          redis.NewScript(bucketLua),
		FixedWindow:          redis.NewScript(fixedWindowLua),
		SlidingWindowCounter: redis.NewScript(slidingCounterLua),
		SlidingWindowLog:     redis.NewScript(slidingLogLua),
	}
	bucketBatchScript = redis.NewScript(bucketBatchLua)
	keyTags           = map[Algorithm]string{
		TokenBucket: "tb2", LeakyBucket: "lb2", FixedWindow: "fw",
		SlidingWindowCounter: "swc", SlidingWindowLog: "swl",
	}
)

// Redis is a Limiter whose state lives in Redis, so every process of a fleet
// shares one limit per key. Each decision is one Lua script, one round trip
// (EVALSHA), atomic on the server; time comes from the server's clock
// (TIME), so app servers with skewed clocks still share one exact limit.
// TokenBucket and LeakyBucket decisions that ride one pipeline (see
// Pipelining below) go as one script call per limiter (per hash slot on a
// Cluster), which decides them in pipeline order, each atomically as
// before, reading TIME once for all of them.
//
// Each key is one Redis key, prefix + algorithm + limit + key, so limiters
// with different algorithms or limits never share state by accident;
// SlidingWindowLog uses two, prefix + algorithm + limit + "{=" + key + "}"
// and the same + ":n", whose hash tag keeps them in one Cluster slot (the
// "=" keeps the tag from being empty for an empty key). Every key carries a
// TTL of the time until it is idle again (plus 1 ms), so Redis memory
// follows active keys only.
//
// Upgrading: TokenBucket and LeakyBucket keep one string per key, "debt
// last", under the algorithm tags tb2 and lb2; earlier versions kept a
// hash under tb and lb (see CHANGELOG). The new tag means processes on the
// old and the new version never read each other's state (no WRONGTYPE, no
// misread), but while a fleet is half upgraded the two halves keep
// separate buckets, so a key may admit up to twice its burst until the
// rollout ends. The old keys expire by themselves.
//
// Failure: when Redis errs, is unreachable or does not answer within the
// WithTimeout bound (default DefaultTimeout) or ctx's deadline, whichever is
// sooner, AllowN returns the error (wrapping context.DeadlineExceeded for a
// timeout) and a Decision that is not Allowed; it never guesses. The bound
// holds on every client: one built with ContextTimeoutEnabled cuts the call
// at the deadline itself; on go-redis's default client the limiter stops
// waiting at the deadline and the abandoned call ends at the client's
// ReadTimeout. A call that timed out may still consume quota once Redis
// resumes (see AllowN). Wrap the limiter with Fallback, FailOpen or
// FailClosed to choose what callers get instead. The client reconnects by
// itself and a script Redis has forgotten (SCRIPT FLUSH, a restart) is sent
// again, so the limiter recovers as soon as Redis is back, with no error.
//
// Pipelining: decisions made concurrently on one client (by this limiter
// or any other package's Redis type on that client) ride pipelines
// together, each still bounded on its own; a decision with nothing else in
// flight goes straight out. WithoutPipelining opts out.
//
// Persistence: the counts live in Redis only. A Redis restarted without
// persistence, or flushed, forgets them: every key starts again with a
// full quota (each client may get one extra burst), and nothing else is
// lost. appendonly yes keeps them across a restart (appendfsync always
// loses no decision Redis acknowledged; everysec up to a second's worth).
type Redis struct {
	client    redis.UniversalClient
	spec      spec
	script    *redis.Script
	keyPrefix string
	bound     redisx.Bound  // WithTimeout, or the caller's ctx alone
	limitArgs []any         // the script arguments after now and n, formatted once
	merge     *redisx.Merge // buckets: how a pipeline merges this limiter's decisions
	hooks     hooks
	stats     counters

	// Tests only: take "now" from this clock instead of the server's, and
	// lengthen TTLs, so exact-time suites run on real servers too.
	testClock  func() time.Time
	ttlSlackMS int64
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Redis-backed limiter for alg and l on c (a *redis.Client,
// *redis.ClusterClient or failover client). Options: WithPrefix (default
// DefaultPrefix), WithTimeout (default DefaultTimeout) or WithoutTimeout,
// WithObserver, WithLogger. Errors wrap ErrInvalidConfig.
func NewRedis(c redis.UniversalClient, alg Algorithm, l Limit, opts ...RedisOption) (*Redis, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	s, err := newSpec(alg, l)
	if err != nil {
		return nil, err
	}
	o, err := applyRedisOptions(opts)
	if err != nil {
		return nil, err
	}
	r := &Redis{
		client:    c,
		spec:      s,
		script:    scripts[alg],
		keyPrefix: fmt.Sprintf("%s%s:%d:%s:%d:", o.prefix, keyTags[alg], s.rate, l.Period, s.burst),
		bound:     redisx.NewBound(c, o.timeout),
		hooks:     o.hooks,
	}
	if o.unpipelined {
		r.bound = r.bound.WithoutPipelining()
	}
	r.setLimitArgs()
	return r, nil
}

func (r *Redis) setLimitArgs() {
	s := &r.spec
	slack := strconv.FormatInt(r.ttlSlackMS, 10)
	if s.alg.bucket() {
		leaky := "0"
		if s.alg == LeakyBucket {
			leaky = "1"
		}
		r.limitArgs = []any{itoa(s.rate), itoa(s.burst), itoa(s.periodUS), leaky, slack}
		r.merge = &redisx.Merge{Script: bucketBatchScript, Shared: []any{itoa(s.rate), itoa(s.burst), itoa(s.periodUS), slack}, PerCall: 2}
		return
	}
	r.limitArgs = []any{itoa(s.rate), itoa(s.periodUS), slack}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// boxedN holds the n argument pre-converted for small n, so the common
// Allow (n=1) boxes nothing.
var boxedN = func() (b [65]any) {
	for i := range b {
		b[i] = strconv.Itoa(i)
	}
	return b
}()

// call is one script call's KEYS and ARGV. Calls are pooled, which saves
// two allocations per decision. A call is its own redisx.Releaser: go-redis
// reads the keys and args until it is done with the command (again for
// EVAL after a NOSCRIPT), which for a call the caller gave up on at its
// deadline is after AllowN has returned, so only Release pools it.
type call struct {
	keys [2]string
	keyc int
	args [7]any
	argc int
}

var calls = sync.Pool{New: func() any { return new(call) }}

func (r *Redis) newCall(key string, n int) *call {
	c := calls.Get().(*call)
	if r.spec.alg == SlidingWindowLog {
		c.keys[0] = r.keyPrefix + "{=" + key + "}"
		c.keys[1] = c.keys[0] + ":n"
		c.keyc = 2
	} else {
		c.keys[0] = r.keyPrefix + key
		c.keyc = 1
	}
	c.args[0] = r.now()
	if n < len(boxedN) {
		c.args[1] = boxedN[n]
	} else {
		c.args[1] = strconv.Itoa(n)
	}
	c.argc = 2 + copy(c.args[2:], r.limitArgs)
	return c
}

// Release returns c to the pool without the references it held; redisx
// calls it once go-redis is done with c's keys and args.
func (c *call) Release() {
	*c = call{}
	calls.Put(c)
}

// Allow is AllowN(ctx, key, 1).
func (r *Redis) Allow(ctx context.Context, key string) (Decision, error) {
	return r.AllowN(ctx, key, 1)
}

// AllowN decides on n units under key with one script call. Errors: bad n
// (ErrInvalidRequest, ErrExceedsLimit), or the Redis error, returned by the
// WithTimeout bound or ctx's deadline, whichever is sooner, with a Decision
// that is not Allowed.
//
// A call that timed out has an unknown outcome, not a failed one: Redis
// may have received the script and run it, or may run it once it resumes
// from a freeze, a pause or a slow command, consuming the n units this call
// asked for. (On a client without ContextTimeoutEnabled, go-redis retries
// a timed-out read up to MaxRetries times; where requests reach Redis but
// replies are lost, each retry can consume n again.) The limiter cannot
// know, so it never refunds: after timeouts a key may have less left than
// its admitted requests account for. The wrappers answer a timed-out call
// in the limiter's place (Fallback from its secondary, which counts the
// request too; FailOpen allows; FailClosed denies), never retry it, and do
// not ask Redis again for their cooldown (WithCooldown), so late charges stay few.
func (r *Redis) AllowN(ctx context.Context, key string, n int) (Decision, error) {
	if err := r.spec.checkN(n); err != nil {
		r.stats.errors.Add(1)
		return Decision{Limit: r.spec.limit}, err
	}
	d, err := r.run(ctx, key, n)
	r.stats.count(d, err)
	return d, err
}

// run makes one script call for n units of key (0: Peek) and reports a
// failure to the hooks.
func (r *Redis) run(ctx context.Context, key string, n int) (Decision, error) {
	c := r.newCall(key, n)
	reply, err := r.bound.EvalMerged(ctx, r.client, r.script, r.merge, c.keys[:c.keyc], c.args[:c.argc], c).Text()
	if err == nil {
		var o outcome
		if o, err = r.parseReply(reply, n); err == nil {
			return r.spec.decision(o), nil
		}
	} else {
		err = fmt.Errorf("ratelimit: redis: %w", err)
	}
	if r.hooks.on() {
		r.hooks.emit(Event{Kind: EventError, Limiter: "redis", Algorithm: r.spec.alg, Limit: r.spec.limit, Key: key, Err: err})
	}
	return Decision{Limit: r.spec.limit}, err
}

// Stats returns the limiter's counts so far; Keys is always 0 (the keys
// live, and expire, on the server).
func (r *Redis) Stats() Stats { return r.stats.stats() }

// Limit returns the limiter's limit, with Burst filled in.
func (r *Redis) Limit() Limit { return r.spec.limit }

func (r *Redis) now() string {
	if r.testClock == nil {
		return "" // the script reads the server's TIME
	}
	return strconv.FormatInt(r.testClock().UnixMicro(), 10)
}

var errBadReply = errors.New("ratelimit: malformed script reply")

// parseReply decodes the reply of r's script to a call for n units.
func (r *Redis) parseReply(reply string, n int) (outcome, error) {
	if !r.spec.alg.bucket() {
		return parseOutcome(reply)
	}
	allowed, debt, err := parseBucketReply(reply)
	if err != nil {
		return outcome{}, err
	}
	return r.spec.bucketOutcome(allowed, debt, int64(n)), nil
}

// parseOutcome decodes the window scripts' "allowed remaining retry reset delay".
func parseOutcome(s string) (outcome, error) {
	var v [5]int64
	for i := range v {
		neg := len(s) > 0 && s[0] == '-'
		if neg {
			s = s[1:]
		}
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			v[i] = v[i]*10 + int64(s[j]-'0')
			j++
		}
		if j == 0 || j > 18 {
			return outcome{}, errBadReply
		}
		if neg {
			v[i] = -v[i]
		}
		s = s[j:]
		if i < len(v)-1 {
			if len(s) == 0 || s[0] != ' ' {
				return outcome{}, errBadReply
			}
			s = s[1:]
		}
	}
	if s != "" {
		return outcome{}, errBadReply
	}
	return outcome{allowed: v[0] == 1, remaining: v[1], retry: v[2], reset: v[3], delay: v[4]}, nil
}

// Algorithm returns the limiter's algorithm.
func (r *Redis) Algorithm() Algorithm { return r.spec.alg }

// Peek reads key's quota without spending it (see Peeker), with one script
// call; a Redis failure is an error, as for AllowN. Peeks are not counted
// in Stats, except as Errors.
func (r *Redis) Peek(ctx context.Context, key string) (Decision, error) {
	d, err := r.run(ctx, key, 0) // n = 0 tells the scripts to peek
	if err != nil {
		r.stats.errors.Add(1)
	}
	return d, err
}
