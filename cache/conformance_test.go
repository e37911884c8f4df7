package cache

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// backend is one Cache implementation with a way to move its clock.
type backend struct {
	name string
	// newCache returns an empty cache of this kind; caches made in one test
	// share their data where the kind shares it (Redis, Tiered).
	newCache func(t *testing.T) EntryCache[string]
	// advance moves the cache's clock: a fake clock and miniredis's time
	// together, or (on a real server, whose clock cannot move) it sleeps.
	advance func(d time.Duration)
	// ttl is a TTL short enough to wait out by advance.
	ttl time.Duration
	tg  *redistest.Target // nil for LRU
}

// forEachCache runs fn on every Cache implementation: LRU, then Redis and
// Tiered on every configured Redis target. Behaviour tested through it is
// the same on all of them.
func forEachCache(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Run("lru", func(t *testing.T) {
		clk := newFakeClock()
		fn(t, &backend{
			name: "lru",
			newCache: func(t *testing.T) EntryCache[string] {
				return mustLRU[string](t, 1000, WithClock(clk.Now))
			},
			advance: clk.Advance, ttl: time.Second,
		})
	})
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		b := redisBackend(tg)
		t.Run("redis", func(t *testing.T) {
			b := *b
			b.name = "redis"
			b.newCache = func(t *testing.T) EntryCache[string] {
				return mustRedis[string](t, tg, WithPrefix(uniquePrefix(tg)))
			}
			fn(t, &b.backend)
		})
		t.Run("tiered", func(t *testing.T) {
			b := *b
			b.name = "tiered"
			b.newCache = func(t *testing.T) EntryCache[string] {
				return mustTiered(t, tg, tg.Client, b.clk, uniquePrefix(tg))
			}
			fn(t, &b.backend)
		})
	})
}

type redisBackendT struct {
	backend
	clk *fakeClock // the local tiers' clock; nil on real servers
}

func redisBackend(tg *redistest.Target) *redisBackendT {
	b := &redisBackendT{backend: backend{tg: tg}}
	if tg.Mini != nil {
		b.clk = newFakeClock()
		b.ttl = time.Second
		b.advance = func(d time.Duration) {
			b.clk.Advance(d)
			tg.Advance(d)
		}
	} else {
		b.ttl = 80 * time.Millisecond
		b.advance = time.Sleep
	}
	return b
}

var prefixes atomic.Int64

// uniquePrefix is a key prefix of its own within the test's.
func uniquePrefix(tg *redistest.Target) string {
	return fmt.Sprintf("%s%d:", tg.Prefix, prefixes.Add(1))
}

func mustRedis[V any](t testing.TB, tg *redistest.Target, opts ...RedisOption) *Redis[V] {
	t.Helper()
	r, err := NewRedis[V](tg.Client, append([]RedisOption{WithPrefix(tg.Prefix), WithTimeout(time.Second)}, opts...)...)
	require.NoError(t, err)
	return r
}

// mustTiered returns a Tiered on client (one "process") under prefix, with
// a local tier on clk (nil: the real clock), subscribed before it returns.
func mustTiered(t testing.TB, tg *redistest.Target, client redisClient, clk *fakeClock, prefix string, opts ...TieredOption) *Tiered[string] {
	t.Helper()
	var lopts []LRUOption
	if clk != nil {
		lopts = append(lopts, WithClock(clk.Now))
	}
	local := mustLRU[string](t, 1000, lopts...)
	remote, err := NewRedis[string](client, WithPrefix(prefix), WithTimeout(time.Second))
	require.NoError(t, err)
	tc, err := NewTiered(local, remote, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tc.Close() })
	require.Eventually(t, tc.live.Load, waitFor, tick, "subscribed")
	return tc
}

func TestConformance(t *testing.T) {
	forEachCache(t, func(t *testing.T, b *backend) {
		t.Run("miss", func(t *testing.T) {
			c := b.newCache(t)
			v, ok, err := c.Get(bg, "nope")
			require.NoError(t, err)
			assert.False(t, ok)
			assert.Equal(t, "", v)
			_, ok, err = c.GetEntry(bg, "nope")
			require.NoError(t, err)
			assert.False(t, ok)
		})
		t.Run("set get overwrite", func(t *testing.T) {
			c := b.newCache(t)
			require.NoError(t, c.Set(bg, "k", "v1", 0))
			v, ok := get[string](t, c, "k")
			assert.True(t, ok)
			assert.Equal(t, "v1", v)
			require.NoError(t, c.Set(bg, "k", "v2", 0))
			v, _ = get[string](t, c, "k")
			assert.Equal(t, "v2", v)
		})
		t.Run("odd keys and values", func(t *testing.T) {
			c := b.newCache(t)
			for _, k := range []string{"", " ", "a b", "new\nline", "{tag}", "ünï", "1:2 3:4", string([]byte{0, 255})} {
				val := "value of " + k
				require.NoError(t, c.Set(bg, k, val, 0), "%q", k)
				v, ok := get[string](t, c, k)
				assert.True(t, ok, "%q", k)
				assert.Equal(t, val, v)
			}
			require.NoError(t, c.Set(bg, "empty", "", 0))
			v, ok := get[string](t, c, "empty")
			assert.True(t, ok, "an empty value is a hit")
			assert.Equal(t, "", v)
		})
		t.Run("delete", func(t *testing.T) {
			c := b.newCache(t)
			for _, k := range []string{"a", "b", "c"} {
				require.NoError(t, c.Set(bg, k, k, 0))
			}
			require.NoError(t, c.Delete(bg, "a", "c", "missing"))
			require.NoError(t, c.Delete(bg))
			for k, want := range map[string]bool{"a": false, "b": true, "c": false} {
				_, ok := get[string](t, c, k)
				assert.Equal(t, want, ok, k)
			}
		})
		t.Run("ttl", func(t *testing.T) {
			c := b.newCache(t)
			require.NoError(t, c.Set(bg, "short", "s", b.ttl))
			require.NoError(t, c.Set(bg, "forever", "f", 0))
			e, ok, err := c.GetEntry(bg, "short")
			require.NoError(t, err)
			require.True(t, ok)
			assert.LessOrEqual(t, e.TTL, b.ttl)
			assert.Greater(t, e.TTL, b.ttl/2)
			e, _, _ = c.GetEntry(bg, "forever")
			assert.Equal(t, time.Duration(0), e.TTL, "no expiry")

			b.advance(b.ttl / 8)
			_, ok = get[string](t, c, "short")
			assert.True(t, ok, "alive before its TTL")
			b.advance(b.ttl)
			_, ok = get[string](t, c, "short")
			assert.False(t, ok, "gone after its TTL")
			_, ok, _ = c.GetEntry(bg, "short")
			assert.False(t, ok)
			_, ok = get[string](t, c, "forever")
			assert.True(t, ok)
		})
		t.Run("negative ttl", func(t *testing.T) {
			c := b.newCache(t)
			assert.ErrorIs(t, c.Set(bg, "k", "v", -time.Millisecond), ErrInvalidRequest)
			assert.ErrorIs(t, c.SetEntry(bg, "k", Entry[string]{TTL: -1}), ErrInvalidRequest)
		})
		t.Run("entry metadata", func(t *testing.T) {
			c := b.newCache(t)
			require.NoError(t, c.SetEntry(bg, "k", Entry[string]{Value: "v", LoadTime: 1500 * time.Microsecond, TTL: time.Hour}))
			e, ok, err := c.GetEntry(bg, "k")
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, "v", e.Value)
			assert.False(t, e.NotFound)
			assert.Equal(t, 1500*time.Microsecond, e.LoadTime)
			assert.InDelta(t, float64(time.Hour), float64(e.TTL), float64(time.Second))
		})
		t.Run("negative entry", func(t *testing.T) {
			c := b.newCache(t)
			require.NoError(t, c.SetEntry(bg, "ghost", Entry[string]{NotFound: true, TTL: time.Hour}))
			_, ok := get[string](t, c, "ghost")
			assert.False(t, ok, "Get: a miss")
			e, ok, err := c.GetEntry(bg, "ghost")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.True(t, e.NotFound)
		})
		t.Run("aside on it", func(t *testing.T) {
			src := newSource()
			src.put("1", "ada")
			a := newAside(t, b.newCache(t), src.load, WithTTL(time.Hour))
			for range 3 {
				v, err := a.Get(bg, "1")
				require.NoError(t, err)
				assert.Equal(t, "ada", v)
			}
			_, err := a.Get(bg, "2")
			require.ErrorIs(t, err, ErrNotFound)
			_, err = a.Get(bg, "2")
			require.ErrorIs(t, err, ErrNotFound)
			assert.Equal(t, int64(2), src.calls.Load())
			src.put("1", "grace")
			require.NoError(t, a.Invalidate(bg, "1"))
			v, err := a.Get(bg, "1")
			require.NoError(t, err)
			assert.Equal(t, "grace", v)
		})
	})
}
