package cache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

// Redis is a Cache on a Redis server, shared by every process that uses the
// same server and prefix. Values go through a Codec (JSON by default;
// []byte and string values are stored as they are) behind a small header
// that carries an entry's metadata (see EntryCache) and its expiry
// deadline, so that every read, Get or GetEntry, is one plain GET. TTLs
// are set in milliseconds (SET … PX), so a TTL is kept to the
// millisecond; one with a fraction of a millisecond is rounded up. Every
// command touches one key, so Redis Cluster works as is.
//
// Redis expires entries by their TTL on its own clock; the TTL left that
// GetEntry reports is read from the deadline in the header, which the
// writer computed on its clock, so clock skew between processes shifts
// it (and with it Aside's early refresh and Tiered's local TTL cap), never
// when a value expires. Values written by older versions of this package
// are still read, and a mixed-version fleet serves no wrong value: see
// the format notes in redis_format.go and the CHANGELOG.
//
// A key is stored under prefix + "{}v:" + key: a namespace no
// other name of this package (fleet locks, channels) can reach whatever
// the keys and prefixes, and whose empty hash tag makes Redis Cluster
// spread keys by their whole name.
//
// Each call is bounded by WithTimeout (default DefaultTimeout) as well as by the
// caller's ctx, whichever is sooner, on every client: a Redis that is down
// or frozen costs a caller that long at most, then an error. Create the
// client with ContextTimeoutEnabled: true and go-redis cuts a hung call at
// the deadline itself; without it (the go-redis default) the call is
// abandoned at the deadline to a goroutine that the client's ReadTimeout
// ends. A write given up on may still have reached Redis.
type Redis[V any] struct {
	client  redis.UniversalClient
	prefix  string // WithPrefix's
	entries string // prefix + entryMarker: what every key is stored under
	codec   Codec
	bound   redisx.Bound
	now     func() time.Time // the clock of entries' deadlines (see redis_format.go)

	hits, misses, errs atomic.Uint64
}

var _ EntryCache[int] = (*Redis[int])(nil)

// NewRedis returns a Cache on c (a *redis.Client, *redis.ClusterClient or
// failover client). Options: WithPrefix (default DefaultPrefix),
// WithCodec, WithTimeout (default DefaultTimeout) or WithoutTimeout. Errors wrap ErrInvalidConfig.
func NewRedis[V any](c redis.UniversalClient, opts ...RedisOption) (*Redis[V], error) {
	if c == nil || isNilPointer(c) {
		return nil, fmt.Errorf("%w: nil Redis client", ErrInvalidConfig)
	}
	o := redisConfig{prefix: DefaultPrefix, timeout: DefaultTimeout}
	if err := apply(&o, opts, RedisOption.applyRedis); err != nil {
		return nil, err
	}
	r := &Redis[V]{client: c, prefix: o.prefix, codec: o.codec, now: time.Now}
	r.entries = r.prefix + entryMarker
	if r.codec == nil {
		r.codec = JSON
		switch any(*new(V)).(type) {
		case []byte, string:
			r.codec = rawCodec{}
		}
	}
	r.bound = redisx.NewBound(c, o.timeout)
	if o.unpipelined {
		r.bound = r.bound.WithoutPipelining()
	}
	return r, nil
}

// redisKey returns the Redis key that key is stored under: the prefix,
// "{}v:", then key.
func (r *Redis[V]) redisKey(key string) string { return r.entries + key }

// Get returns key's value; a miss (or a negative entry) is (zero, false,
// nil). An error is Redis failing or a value that does not decode.
func (r *Redis[V]) Get(ctx context.Context, key string) (V, bool, error) {
	var zero V
	data, err := r.getRaw(ctx, key)
	if errors.Is(err, redis.Nil) || err == nil && isTombstone(data) {
		r.misses.Add(1)
		return zero, false, nil
	}
	if err != nil {
		r.errs.Add(1)
		return zero, false, fmt.Errorf("cache: redis GET %q: %w", key, err)
	}
	e, _, err := r.decode(data)
	if err != nil {
		r.errs.Add(1)
		return zero, false, fmt.Errorf("cache: redis GET %q: %w", key, err)
	}
	if e.NotFound {
		r.misses.Add(1)
		return zero, false, nil
	}
	r.hits.Add(1)
	return e.Value, true, nil
}

// GetEntry returns key's entry with its remaining TTL, in one round trip:
// a plain GET (pipelined with the client's concurrent calls, as Get), the
// TTL being read from the entry's header (see redis_format.go) on this
// process's clock. An entry written by a version of this package from
// before that header field is a hit too, its TTL asked of Redis by a
// PTTL that follows the GET; should that PTTL fail, the entry is
// returned with TTL 0 (unknown: no early refresh) rather than failing
// the read.
func (r *Redis[V]) GetEntry(ctx context.Context, key string) (Entry[V], bool, error) {
	e, ok, _, err := r.getEntryFence(ctx, key)
	return e, ok, err
}

// getEntryFence is GetEntry that also returns, for a miss, the fence
// readFence would have read: the GET's reply holds the bytes it is made
// of (nothing, or a tombstone). For a hit or an error the fence is the
// zero one: Aside then reads the fence again (see missFencer).
func (r *Redis[V]) getEntryFence(ctx context.Context, key string) (Entry[V], bool, fence, error) {
	return r.readKey(ctx, key, false)
}

// readKey is the one GET behind GetEntry and readFence: it returns what
// key holds and, for a miss, the fence of what the GET found (nothing or
// a tombstone). forStore (readFence: a load about to store) also fences
// a hit and takes undecodable bytes for a miss, which the load's store
// then replaces; else (GetEntry) a hit gets the zero fence, sparing every
// hit a SHA-1, and undecodable bytes are an error.
func (r *Redis[V]) readKey(ctx context.Context, key string, forStore bool) (Entry[V], bool, fence, error) {
	data, err := r.getRaw(ctx, key)
	switch {
	case errors.Is(err, redis.Nil):
		r.misses.Add(1)
		return Entry[V]{}, false, fence{valid: true}, nil
	case err != nil:
		r.errs.Add(1)
		return Entry[V]{}, false, fence{}, fmt.Errorf("cache: redis GET %q: %w", key, err)
	case isTombstone(data):
		r.misses.Add(1)
		return Entry[V]{}, false, fenceOf(data), nil
	}
	e, h, err := r.decode(data)
	if err != nil {
		r.errs.Add(1)
		if forStore {
			return Entry[V]{}, false, fenceOf(data), nil
		}
		return Entry[V]{}, false, fence{}, fmt.Errorf("cache: redis GET %q: %w", key, err)
	}
	e.TTL = r.ttlLeft(ctx, key, h)
	r.hits.Add(1)
	var f fence
	if forStore {
		f = fenceOf(data)
	}
	return e, true, f, nil
}

// getRaw reads key's stored bytes with one bounded GET, pipelined with
// the client's concurrent calls unless WithoutPipelining; a miss is
// redis.Nil.
func (r *Redis[V]) getRaw(ctx context.Context, key string) ([]byte, error) {
	s, err := r.bound.Command(ctx, r.client, "get", r.redisKey(key)).Text()
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// ttlLeft is the TTL an entry read under key with header h has left: from
// its deadline, or for a legacy entry (no deadline) from a PTTL of key.
func (r *Redis[V]) ttlLeft(ctx context.Context, key string, h header) time.Duration {
	if !h.legacy {
		return h.ttlLeft(r.now())
	}
	return r.legacyTTL(ctx, key)
}

// legacyTTL asks Redis for the TTL left of key, which holds a value
// written before entries carried their deadline: 0 for none or when the
// PTTL fails (the read is not failed for it), at least 1ms when the key
// has just gone (a hit was read).
func (r *Redis[V]) legacyTTL(ctx context.Context, key string) time.Duration {
	ms, err := r.bound.Command(ctx, r.client, "pttl", r.redisKey(key)).Int64()
	switch {
	case err != nil || ms == -1:
		return 0
	case ms < 1:
		return time.Millisecond
	}
	return time.Duration(ms) * time.Millisecond
}

// Set stores v under key for ttl (0: no expiry), to the millisecond.
func (r *Redis[V]) Set(ctx context.Context, key string, v V, ttl time.Duration) error {
	return r.SetEntry(ctx, key, Entry[V]{Value: v, TTL: ttl})
}

// SetEntry stores an entry with its metadata for e.TTL (0: no expiry).
func (r *Redis[V]) SetEntry(ctx context.Context, key string, e Entry[V]) error {
	return r.setEntry(ctx, key, e, "", "")
}

// setEntry stores e and, when channel is not "", publishes msg on it in
// the same round trip.
func (r *Redis[V]) setEntry(ctx context.Context, key string, e Entry[V], channel, msg string) error {
	if e.TTL < 0 {
		return fmt.Errorf("%w: Set(%q): negative ttl %s", ErrInvalidRequest, key, e.TTL)
	}
	data, err := r.encode(&e)
	if err != nil {
		return fmt.Errorf("cache: encoding %q: %w", key, err)
	}
	ttl := wholeMillis(e.TTL)
	if channel == "" {
		// One command through the bound, as Get: concurrent Sets ride
		// pipelines together (WithoutPipelining opts out).
		args := []any{"set", r.redisKey(key), data}
		if ttl > 0 {
			args = append(args, "px", ttl.Milliseconds())
		}
		if err := r.bound.Command(ctx, r.client, args...).Err(); err != nil {
			r.errs.Add(1)
			return fmt.Errorf("cache: redis SET %q: %w", key, err)
		}
		return nil
	}
	_, err = redisx.Do(ctx, r.bound, func(ctx context.Context) (struct{}, error) {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, r.redisKey(key), data, ttl)
			p.Publish(ctx, channel, msg)
			return nil
		})
		return struct{}{}, err
	})
	if err != nil {
		r.errs.Add(1)
		return fmt.Errorf("cache: redis SET %q: %w", key, err)
	}
	return nil
}

// Delete drops keys. One key is one DEL through the bound, pipelined with
// the client's concurrent calls as Get and Set are; several keys go as one
// DEL each in a pipeline of their own (so keys in different Cluster slots
// work).
func (r *Redis[V]) Delete(ctx context.Context, keys ...string) error {
	return r.delete(ctx, keys, "", "")
}

// delete drops keys and, when channel is not "", publishes msg on it in
// the same round trip.
func (r *Redis[V]) delete(ctx context.Context, keys []string, channel, msg string) error {
	if len(keys) == 0 && channel == "" {
		return nil
	}
	var err error
	if len(keys) == 1 && channel == "" {
		// One command through the bound, as Get: concurrent one-key
		// Deletes ride pipelines together (WithoutPipelining opts out).
		err = r.bound.Command(ctx, r.client, "del", r.redisKey(keys[0])).Err()
	} else {
		err = r.deletePipelined(ctx, keys, channel, msg)
	}
	if err != nil {
		r.errs.Add(1)
		return fmt.Errorf("cache: redis DEL %q: %w", keys, err)
	}
	return nil
}

// deletePipelined drops several keys, and publishes msg on channel when it
// is not "", in one bounded pipeline of its own: a multi-key DEL would fail
// across Cluster slots.
func (r *Redis[V]) deletePipelined(ctx context.Context, keys []string, channel, msg string) error {
	_, err := redisx.Do(ctx, r.bound, func(ctx context.Context) (struct{}, error) {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(ctx, r.redisKey(k))
			}
			if channel != "" {
				p.Publish(ctx, channel, msg)
			}
			return nil
		})
		return struct{}{}, err
	})
	return err
}

// Stats returns Hits, Misses and CacheErrors (failed calls and values that
// did not decode).
func (r *Redis[V]) Stats() Stats {
	return Stats{Hits: r.hits.Load(), Misses: r.misses.Load(), CacheErrors: r.errs.Load()}
}

func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// wholeMillis rounds ttl up to whole milliseconds, the unit of SET PX: a
// positive TTL never becomes 0 (no expiry).
func wholeMillis(ttl time.Duration) time.Duration {
	return (ttl + time.Millisecond - 1) / time.Millisecond * time.Millisecond
}
