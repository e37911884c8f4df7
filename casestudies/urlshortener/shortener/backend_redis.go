package shortener

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/internal/redisx"
	"github.com/sysdesign/patterns/ratelimit"
)

// DefaultRedisTimeout bounds the Redis calls the service makes itself
// outside a create or a visit (the code key at Start, /healthz); the
// counter and visit counts are bounded by Config.WriteTimeout.
const DefaultRedisTimeout = 250 * time.Millisecond

//go:embed visits.lua
var visitsLua string

var visitsScript = redis.NewScript(visitsLua)

// Redis key layout, after Config.Prefix (which holds no braces). The empty
// hash tag makes Redis Cluster hash each whole key, so a code or alias can
// never choose a slot; each script touches one key.
//
//	<prefix>{}counter         the code counter (INCR), kept forever
//	<prefix>{}codekey         the code bijection's key, kept forever
//	<prefix>{}visits:<code>   a link's visit count, deleted with the link
//	<prefix>cqrs:…            events and the link table (package cqrs)
//	<prefix>cache:…           the resolution cache (package cache)
//	<prefix>rl:<name>:…       rate limits (package ratelimit)
func newRedisBackend(cfg Config) (*backend, error) {
	c, p := cfg.Redis, cfg.Prefix
	store, err := cqrs.NewRedisStore(c, cqrs.WithPrefix(p+"cqrs:"))
	if err != nil {
		return nil, err
	}
	table, err := cqrs.NewRedisReadModel(c, "links", linkTable, cqrs.WithPrefix(p+"cqrs:"))
	if err != nil {
		return nil, err
	}
	lru, err := cache.NewLRU[Link](cfg.CacheSize)
	if err != nil {
		return nil, err
	}
	remote, err := cache.NewRedis[Link](c, cache.WithPrefix(p+"cache:"))
	if err != nil {
		return nil, err
	}
	// While Redis is down the local tier keeps redirecting the links it
	// holds, for at most CacheTTL: the price is that a link deleted
	// elsewhere meanwhile may keep redirecting here that long.
	tiered, err := cache.NewTiered(lru, remote, cache.WithLogger(cfg.Logger), cache.WithServeStaleWhileDetached(cfg.CacheTTL))
	if err != nil {
		return nil, err
	}
	bound, writeBound := redisx.NewBound(c, DefaultRedisTimeout), redisx.NewBound(c, 0)
	counterKey, codeKeyKey := p+"{}counter", p+"{}codekey"
	return &backend{
		store: store,
		table: table,
		get:   table.Get,
		links: tiered,
		// The counter is bounded by the create's Config.WriteTimeout (its
		// ctx): a timed-out INCR only wastes a number.
		counter: func(ctx context.Context) (uint64, error) {
			n, err := redisx.Do(ctx, writeBound, func(ctx context.Context) (int64, error) {
				return c.Incr(ctx, counterKey).Result()
			})
			return uint64(n), err
		},
		visits: &redisVisits{c: c, bound: bound, prefix: p + "{}visits:"},
		codeKey: func(ctx context.Context, configured []byte) ([]byte, error) {
			return sharedCodeKey(ctx, c, bound, codeKeyKey, configured)
		},
		limiter: func(name string, l ratelimit.Limit) (ratelimit.Limiter, error) {
			shared, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, l, ratelimit.WithPrefix(p+"rl:"+name+":"))
			if err != nil {
				return nil, err
			}
			// While Redis is down each instance limits on its own.
			local, err := ratelimit.NewMemory(ratelimit.TokenBucket, l, ratelimit.WithClock(cfg.Clock))
			if err != nil {
				return nil, err
			}
			return ratelimit.Fallback(shared, local), nil
		},
		ping: func(ctx context.Context) error {
			return redisx.Run(ctx, bound, func(ctx context.Context) error { return c.Ping(ctx).Err() })
		},
		close: tiered.Close,
	}, nil
}

// sharedCodeKey returns the code bijection's key: the configured one, else
// the one stored in Redis, which the first instance makes (SET NX) so every
// instance maps the shared counter to the same codes.
func sharedCodeKey(ctx context.Context, c redis.UniversalClient, b redisx.Bound, key string, configured []byte) ([]byte, error) {
	if configured != nil {
		return configured, nil
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	stored, err := redisx.Do(ctx, b, func(ctx context.Context) (string, error) {
		if err := c.SetNX(ctx, key, hex.EncodeToString(fresh), 0).Err(); err != nil {
			return "", err
		}
		return c.Get(ctx, key).Result()
	})
	if err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(stored)
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("the code key stored at %s is not 16+ bytes of hex", key)
	}
	return k, nil
}

// redisVisits counts visits with one script per visit, so concurrent
// visits on any number of instances never exceed the limit.
type redisVisits struct {
	c      redis.UniversalClient
	bound  redisx.Bound
	prefix string
}

func (v *redisVisits) take(ctx context.Context, code string, max int64) (bool, int64, error) {
	res, err := v.bound.Eval(ctx, v.c, visitsScript, []string{v.prefix + code}, []any{max}, nil).Slice()
	if err != nil {
		return false, 0, err
	}
	if len(res) != 2 {
		return false, 0, errors.New("visits script: malformed reply")
	}
	ok, err1 := redisx.Int64(res[0])
	used, err2 := redisx.Int64(res[1])
	if err := errors.Join(err1, err2); err != nil {
		return false, 0, err
	}
	return ok == 1, used, nil
}

func (v *redisVisits) drop(ctx context.Context, code string) error {
	return redisx.Run(ctx, v.bound, func(ctx context.Context) error { return v.c.Del(ctx, v.prefix+code).Err() })
}
