package saga_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/saga"
	"github.com/sysdesign/patterns/saga/sagatest"
)

const testRetention = time.Hour

// TestLogConformance runs the sagatest suite against every Log
// implementation, so that the memory and Redis logs cannot drift apart.
func TestLogConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		sagatest.TestLog(t, sagatest.Features{}, func(t *testing.T) sagatest.Backend {
			clock := clocktest.New()
			l, err := saga.NewMemoryLog(saga.WithClock(clock.Now), saga.WithRetention(testRetention))
			require.NoError(t, err)
			return sagatest.Backend{Log: l, Advance: clock.Advance, Retention: testRetention}
		})
	})
	t.Run("redis", func(t *testing.T) {
		for _, k := range redistest.Kinds() {
			t.Run(string(k), func(t *testing.T) {
				// A real server's TTLs follow its own clock;
				// TestRedisLogFinishedKeysExpire checks them instead.
				f := sagatest.Features{NoRetentionTimeTravel: k != redistest.Mini}
				sagatest.TestLog(t, f, func(t *testing.T) sagatest.Backend {
					return redisBackend(t, redistest.New(t, k))
				})
			})
		}
	})
}

// redisBackend is a Redis log on tg and a second one on a client of its
// own, as another process would hold, both on one manual lease clock.
func redisBackend(t *testing.T, tg *redistest.Target) sagatest.Backend {
	clock := clocktest.New()
	newLog := func(c redis.UniversalClient) *saga.RedisLog {
		l, err := saga.NewRedisLog(c, saga.WithPrefix(tg.Prefix), saga.WithRetention(testRetention), saga.WithShards(4))
		require.NoError(t, err)
		saga.SetRedisLogClock(l, clock.Now)
		return l
	}
	other, _ := tg.NewClient()
	advance := func(d time.Duration) {
		clock.Advance(d)
		if tg.Mini != nil {
			tg.Advance(d) // key TTLs
		}
	}
	return sagatest.Backend{Log: newLog(tg.Client), Other: newLog(other), Advance: advance, Retention: testRetention}
}

// TestRedisLogFinishedKeysExpire checks, on every target, that a finished
// saga's keys carry the retention as their TTL and that no key of it is
// left without one: the retention case of the suite cannot move a real
// server's clock.
func TestRedisLogFinishedKeysExpire(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		b := redisBackend(t, tg)
		c, err := b.Log.Claim(ctx, "s", "a", time.Minute, []saga.Entry{{Kind: saga.Started, Step: -1, Data: []byte(`{}`)}})
		require.NoError(t, err)
		fin := saga.Entry{Kind: saga.Finished, Step: -1, Status: saga.Completed, Data: []byte(`{}`)}
		require.NoError(t, b.Log.Append(ctx, "s", "a", c.Token, time.Minute, []saga.Entry{fin}))

		keys := keysUnder(t, tg)
		require.NotEmpty(t, keys, "the finished saga left no keys")
		for _, k := range keys {
			ttl := tg.Client.PTTL(ctx, k).Val()
			require.True(t, ttl > 0 && ttl <= testRetention, "key %s: TTL %s, want (0, %s]", k, ttl, testRetention)
		}
	})
}

// keysUnder lists the keys under the test's prefix on every master.
func keysUnder(t *testing.T, tg *redistest.Target) []string {
	ctx := context.Background()
	var keys []string
	scan := func(ctx context.Context, c *redis.Client) error {
		found, err := c.Keys(ctx, tg.Prefix+"*").Result()
		keys = append(keys, found...)
		return err
	}
	if cc, ok := tg.Client.(*redis.ClusterClient); ok {
		var mu sync.Mutex // ForEachMaster calls in parallel
		require.NoError(t, cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, c)
		}))
		return keys
	}
	require.NoError(t, scan(ctx, tg.Client.(*redis.Client)))
	return keys
}
