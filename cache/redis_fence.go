package cache

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

//go:embed lua/set_fenced.lua
var setFencedLua string

var setFencedScript = redis.NewScript(setFencedLua)

// On Redis a load's fence is what it read under the key: nothing, a value
// or a tombstone, remembered as the SHA-1 of the bytes. Invalidate
// replaces each key with a tombstone that is new every time (a random
// token) for the fence's hold, and a load's store is a script that sets
// the value only if the key still holds what the load read. So a load
// that began before an invalidation, in any process, cannot store over
// it, and a hit costs what it did: one GET, the tombstone being a miss.
//
// A tombstone is hdrBase|hdrTombstone and tombstoneSize random bytes. A
// version of this package from before tombstones reads one as a corrupt
// value: a miss, loaded and stored over without a fence.
const tombstoneSize = 16

// isTombstone reports whether stored bytes are an invalidation's
// tombstone.
func isTombstone(data []byte) bool {
	return len(data) == 1+tombstoneSize && data[0] == hdrBase|hdrTombstone
}

// readFence reads key with one GET, as GetEntry, and returns the fence
// of what it found: the SHA-1 of the bytes, which the fenced store's
// script compares with what the key holds then.
func (r *Redis[V]) readFence(ctx context.Context, key string) (Entry[V], bool, fence, error) {
	return r.readKey(ctx, key, true)
}

// fenceOf is the fence of a read that found data under a key.
func fenceOf(data []byte) fence {
	sum := sha1.Sum(data)
	return fence{valid: true, sum: hex.EncodeToString(sum[:])}
}

// setFenced stores e unless key changed since f was read; with the zero
// fence, only if key holds nothing.
func (r *Redis[V]) setFenced(ctx context.Context, key string, e Entry[V], f fence) (bool, error) {
	return r.setFencedPublish(ctx, key, e, f, "", "")
}

// setFencedPublish is setFenced that publishes msg on channel (unless "")
// when it stores, in the same script.
func (r *Redis[V]) setFencedPublish(ctx context.Context, key string, e Entry[V], f fence, channel, msg string) (bool, error) {
	if e.TTL < 0 {
		return false, fmt.Errorf("%w: SetEntry(%q): negative ttl %s", ErrInvalidRequest, key, e.TTL)
	}
	data, err := r.encode(&e)
	if err != nil {
		return false, fmt.Errorf("cache: encoding %q: %w", key, err)
	}
	ms := wholeMillis(e.TTL).Milliseconds()
	stored, err := r.bound.Eval(ctx, r.client, setFencedScript, []string{r.redisKey(key)},
		[]any{f.sum, data, ms, channel, msg}, nil).Int()
	if err != nil {
		r.errs.Add(1)
		return false, fmt.Errorf("cache: redis SET %q: %w", key, err)
	}
	return stored == 1, nil
}

// invalidate replaces keys with fresh tombstones for hold, in one
// pipeline.
func (r *Redis[V]) invalidate(ctx context.Context, keys []string, hold time.Duration) error {
	return r.invalidatePublish(ctx, keys, hold, "", "")
}

// invalidatePublish is invalidate that publishes msg on channel (unless
// "") in the same round trip.
func (r *Redis[V]) invalidatePublish(ctx context.Context, keys []string, hold time.Duration, channel, msg string) error {
	if len(keys) == 0 && channel == "" {
		return nil
	}
	if hold <= 0 {
		return r.delete(ctx, keys, channel, msg)
	}
	// One token for the call: each key's tombstone only needs to differ
	// from anything that key held before.
	tomb := make([]byte, 1+tombstoneSize)
	tomb[0] = hdrBase | hdrTombstone
	_, _ = rand.Read(tomb[1:]) // never fails (crypto/rand)
	hold = wholeMillis(hold)
	err := redisx.Run(ctx, r.bound, func(ctx context.Context) error {
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Set(ctx, r.redisKey(k), tomb, hold)
			}
			if channel != "" {
				p.Publish(ctx, channel, msg)
			}
			return nil
		})
		return err
	})
	if err != nil {
		r.errs.Add(1)
		return fmt.Errorf("cache: redis invalidating %q: %w", keys, err)
	}
	return nil
}
