package notify

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/internal/redisx"
	"github.com/sysdesign/patterns/queue"
	"github.com/sysdesign/patterns/ratelimit"
)

// DefaultRedisTimeout bounds each Redis call (Config.RedisTimeout).
const DefaultRedisTimeout = 2 * time.Second

// Redis key layout, under Config.Prefix: "q:" the queue (one hash slot,
// tagged by the queue's name), "cqrs:" the history,
// "prefs:<user>" preferences (no TTL: a user's data, replaced by PUT),
// "cache:" the preference cache (TTL PreferenceTTL), "idem:<hash>"
// idempotency keys (TTL IdempotencyTTL), "breaker:" and "ratelimit:" the
// shared breakers and limits. User ids cannot contain braces, so none
// becomes a hash tag.
const (
	queueName = "deliveries"
)

var (
	//go:embed lua/idem_claim.lua
	idemClaimLua    string
	idemClaimScript = redis.NewScript(idemClaimLua)
	//go:embed lua/idem_confirm.lua
	idemConfirmLua    string
	idemConfirmScript = redis.NewScript(idemConfirmLua)
	//go:embed lua/idem_release.lua
	idemReleaseLua    string
	idemReleaseScript = redis.NewScript(idemReleaseLua)
)

// buildRedis makes the Redis backends: everything shared by the instances
// on one Redis, and durable as far as Redis is.
func (s *Service) buildRedis() error {
	c, p, timeout := s.cfg.Redis, s.cfg.Prefix, s.cfg.RedisTimeout
	if err := redisx.CheckPrefix(p); err != nil {
		return fmt.Errorf("%w: Prefix: %w", ErrInvalidConfig, err)
	}
	qopts := []queue.RedisOption{queue.WithName(queueName), queue.WithPrefix(p + "q:"), queue.WithTimeout(timeout)}
	if s.cfg.clockSet {
		qopts = append(qopts, queue.WithClock(s.cfg.Clock))
	}
	if s.cfg.Aging > 0 {
		qopts = append(qopts, queue.WithAging(s.cfg.Aging))
	}
	if s.cfg.PollInterval > 0 {
		qopts = append(qopts, queue.WithPollInterval(s.cfg.PollInterval))
	}
	if s.cfg.VisibilityTimeout > 0 {
		qopts = append(qopts, queue.WithVisibilityTimeout(s.cfg.VisibilityTimeout))
	}
	q, err := queue.NewRedis(c, qopts...)
	if err != nil {
		return err
	}
	s.queue = q
	s.closers = append(s.closers, q.Close)

	store, err := cqrs.NewRedisStore(c, cqrs.WithPrefix(p+"cqrs:"), cqrs.WithTimeout(timeout), cqrs.WithBlock(200*time.Millisecond))
	if err != nil {
		return err
	}
	if err := s.buildHistory(store); err != nil {
		return err
	}
	s.history = newHistoryWriter(store)

	bound := redisx.NewBound(c, timeout)
	s.prefs = &redisPrefs{c: c, bound: bound, prefix: p + "prefs:"}
	rc, err := s.redisPrefCache()
	if err != nil {
		return err
	}
	if err := s.buildPrefView(rc); err != nil {
		return err
	}
	s.idem = &redisIdem{c: c, bound: bound, prefix: p + "idem:"}
	if !s.cfg.NoUserRate {
		l, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, s.cfg.UserRate, ratelimit.WithPrefix(p+"ratelimit:"), ratelimit.WithTimeout(timeout))
		if err != nil {
			return fmt.Errorf("%w: UserRate: %w", ErrInvalidConfig, err)
		}
		s.limiter = l
	}
	bs, err := breaker.NewRedisStore(c, breaker.WithPrefix(p+"breaker:"), breaker.WithTimeout(timeout))
	if err != nil {
		return err
	}
	s.breakerShared = bs
	s.closers = append(s.closers, bs.Close)
	return nil
}

// redisPrefCache is the preference cache the instances share. It has no
// local tier (cache.Tiered): a Tiered drops other instances' local copies
// by pub/sub, after the PUT that changed them was answered — on a Cluster
// the message crosses the cluster bus and arrives milliseconds later — so
// a dispatch on another instance just after a PUT could use the old
// preferences (TestTwoInstancesShareOneRedis caught it on the Cluster).
// A dispatch must see every update made before it began.
func (s *Service) redisPrefCache() (*cache.Redis[Preferences], error) {
	return cache.NewRedis[Preferences](s.cfg.Redis, cache.WithPrefix(s.cfg.Prefix+"cache:"), cache.WithTimeout(s.cfg.RedisTimeout))
}

// breakerStore shares the breakers through Redis when configured, so the
// instances trip, probe and close a provider's circuit together.
func (s *Service) breakerStore(cfg *breaker.Config) error {
	if s.breakerShared != nil {
		cfg.Store = s.breakerShared
	}
	return nil
}

// redisPrefs keeps preferences as JSON strings, one key per user, with no
// TTL: they are the user's data, replaced by each PUT.
type redisPrefs struct {
	c      redis.UniversalClient
	bound  redisx.Bound
	prefix string
}

func (r *redisPrefs) get(ctx context.Context, userID string) (Preferences, error) {
	raw, err := redisx.Do(ctx, r.bound, func(ctx context.Context) (string, error) {
		return r.c.Get(ctx, r.prefix+userID).Result()
	})
	var p Preferences
	switch {
	case errors.Is(err, redis.Nil):
		return p, nil
	case err != nil:
		return p, fmt.Errorf("%w: preferences: %w", ErrUnavailable, err)
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return Preferences{}, fmt.Errorf("notify: preferences of %q are corrupt: %w", userID, err)
	}
	return p, nil
}

func (r *redisPrefs) put(ctx context.Context, userID string, p Preferences) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return redisx.Run(ctx, r.bound, func(ctx context.Context) error {
		return r.c.Set(ctx, r.prefix+userID, raw, 0).Err()
	})
}

// redisIdem keeps idempotency keys with their TTL: one script per step,
// so 100 racing posts on any number of instances agree on one id.
type redisIdem struct {
	c      redis.UniversalClient
	bound  redisx.Bound
	prefix string
}

func (r *redisIdem) claim(ctx context.Context, key, id string) (string, bool, error) {
	v, err := r.bound.Eval(ctx, r.c, idemClaimScript, []string{r.prefix + key}, []any{id, idemPendingTTL.Milliseconds()}, nil).Text()
	if err != nil {
		return "", false, fmt.Errorf("%w: idempotency key: %w", ErrUnavailable, err)
	}
	return parseIdem(v)
}

func (r *redisIdem) confirm(ctx context.Context, key, id string, ttl time.Duration) error {
	n, err := r.bound.Eval(ctx, r.c, idemConfirmScript, []string{r.prefix + key}, []any{id, ttl.Milliseconds()}, nil).Int()
	switch {
	case err != nil:
		return fmt.Errorf("%w: idempotency key: %w", ErrUnavailable, err)
	case n == 0:
		return fmt.Errorf("notify: idempotency claim of %s expired before it was confirmed", id)
	}
	return nil
}

func (r *redisIdem) release(ctx context.Context, key, id string) error {
	return r.bound.Eval(ctx, r.c, idemReleaseScript, []string{r.prefix + key}, []any{id}, nil).Err()
}
