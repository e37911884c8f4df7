package cache_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cache/cachetest"
	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
)

// TestConformance runs the cachetest suite against every Cache: LRU, then
// Redis and Tiered on every configured Redis target, so that they cannot
// drift apart. Each backend's Peer is a second instance over the same
// store (for the LRU, itself).
func TestConformance(t *testing.T) {
	t.Run("lru", func(t *testing.T) {
		cachetest.TestCache(t, cachetest.Features{}, func(t *testing.T) cachetest.Backend {
			clk := clocktest.New()
			c, err := cache.NewLRU[string](1000, cache.WithClock(clk.Now))
			require.NoError(t, err)
			return cachetest.Backend{Cache: c, Peer: c, Advance: clk.Advance, TTL: time.Second}
		})
	})
	for _, k := range redistest.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			t.Run("redis", func(t *testing.T) {
				cachetest.TestCache(t, cachetest.Features{}, func(t *testing.T) cachetest.Backend {
					tg := redistest.New(t, k)
					b, _ := redisClock(tg)
					b.Cache, b.Peer = newRedis(t, tg), newRedis(t, tg)
					return b
				})
			})
			t.Run("tiered", func(t *testing.T) {
				cachetest.TestCache(t, cachetest.Features{}, func(t *testing.T) cachetest.Backend {
					tg := redistest.New(t, k)
					b, clk := redisClock(tg)
					b.Cache, b.Peer = newTiered(t, tg, clk), newTiered(t, tg, clk)
					return b
				})
			})
		})
	}
}

// redisClock is a backend without its cache: on miniredis, a manual clock
// for the local tier moved together with the server's; on a real server,
// whose clock cannot be moved, waiting in real time (clk nil) with a TTL
// short enough to wait out, and long enough that the case's sleep of an
// eighth of it, however late a loaded machine wakes it, stays well short
// of it (80ms failed "alive before its TTL" at load 13 with -race).
func redisClock(tg *redistest.Target) (b cachetest.Backend, clk *clocktest.Clock) {
	if tg.Mini == nil {
		return cachetest.Backend{Advance: time.Sleep, TTL: 400 * time.Millisecond}, nil
	}
	clk = clocktest.New()
	advance := func(d time.Duration) {
		clk.Advance(d)
		tg.Advance(d)
	}
	return cachetest.Backend{Advance: advance, TTL: time.Second}, clk
}

func newRedis(t *testing.T, tg *redistest.Target) *cache.Redis[string] {
	r, err := cache.NewRedis[string](tg.Client, cache.WithPrefix(tg.Prefix), cache.WithTimeout(time.Second))
	require.NoError(t, err)
	return r
}

// newTiered is a Tiered with a local tier on clk (nil: the real clock),
// subscribed before it returns.
func newTiered(t *testing.T, tg *redistest.Target, clk *clocktest.Clock) *cache.Tiered[string] {
	var lopts []cache.LRUOption
	if clk != nil {
		lopts = append(lopts, cache.WithClock(clk.Now))
	}
	local, err := cache.NewLRU[string](1000, lopts...)
	require.NoError(t, err)
	tc, err := cache.NewTiered(local, newRedis(t, tg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = tc.Close() })
	require.Eventually(t, func() bool { return cache.TieredLive(tc) }, 5*time.Second, time.Millisecond, "subscribed")
	return tc
}
