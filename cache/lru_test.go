package cache

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var bg = context.Background()

func mustLRU[V any](t testing.TB, capacity int, opts ...LRUOption) *LRU[V] {
	t.Helper()
	c, err := NewLRU[V](capacity, opts...)
	require.NoError(t, err)
	return c
}

func get[V any](t testing.TB, c Cache[V], key string) (V, bool) {
	t.Helper()
	v, ok, err := c.Get(bg, key)
	require.NoError(t, err)
	return v, ok
}

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	c := mustLRU[int](t, 3)
	for i, k := range []string{"a", "b", "c"} {
		require.NoError(t, c.Set(bg, k, i, 0))
	}
	_, ok := get[int](t, c, "a") // a is now the most recent: b is the oldest
	require.True(t, ok)
	require.NoError(t, c.Set(bg, "d", 3, 0))
	_, ok = get[int](t, c, "b")
	assert.False(t, ok, "b was least recently used")
	for _, k := range []string{"a", "c", "d"} {
		_, ok := get[int](t, c, k)
		assert.True(t, ok, k)
	}
	assert.Equal(t, 3, c.Len())
	st := c.Stats()
	assert.Equal(t, uint64(1), st.Evictions)
	assert.Equal(t, uint64(4), st.Hits)
	assert.Equal(t, uint64(1), st.Misses)
	assert.InDelta(t, 0.8, st.HitRate(), 1e-9)
}

func TestLRUSetUpdatesInPlace(t *testing.T) {
	c := mustLRU[string](t, 2)
	require.NoError(t, c.Set(bg, "a", "1", 0))
	require.NoError(t, c.Set(bg, "b", "2", 0))
	require.NoError(t, c.Set(bg, "a", "3", 0)) // a most recent, b oldest
	require.NoError(t, c.Set(bg, "c", "4", 0))
	v, ok := get[string](t, c, "a")
	assert.True(t, ok)
	assert.Equal(t, "3", v)
	_, ok = get[string](t, c, "b")
	assert.False(t, ok)
	assert.Equal(t, 2, c.Len())
}

func TestLRUTTLUnderFakeClock(t *testing.T) {
	clk := newFakeClock()
	c := mustLRU[int](t, 10, WithClock(clk.Now))
	require.NoError(t, c.Set(bg, "short", 1, time.Second))
	require.NoError(t, c.Set(bg, "long", 2, time.Minute))
	require.NoError(t, c.Set(bg, "forever", 3, 0))

	clk.Advance(999 * time.Millisecond)
	_, ok := get[int](t, c, "short")
	assert.True(t, ok, "1ns before expiry")
	e, ok, _ := c.GetEntry(bg, "long")
	require.True(t, ok)
	assert.Equal(t, time.Minute-999*time.Millisecond, e.TTL)

	clk.Advance(time.Millisecond)
	_, ok = get[int](t, c, "short")
	assert.False(t, ok, "expired at exactly its TTL")
	_, ok = get[int](t, c, "long")
	assert.True(t, ok)
	clk.Advance(time.Hour)
	_, ok = get[int](t, c, "long")
	assert.False(t, ok)
	e, ok, _ = c.GetEntry(bg, "forever")
	assert.True(t, ok)
	assert.Equal(t, time.Duration(0), e.TTL, "no expiry reports TTL 0")
	assert.Equal(t, uint64(2), c.Stats().Expirations)
	assert.Equal(t, 1, c.Len())
}

func TestLRUExpiredEntriesReclaimedWithoutAccess(t *testing.T) {
	clk := newFakeClock()
	c := mustLRU[int](t, 1000, WithClock(clk.Now))
	for i := range 100 {
		require.NoError(t, c.Set(bg, "old"+strconv.Itoa(i), i, time.Second))
	}
	clk.Advance(2 * time.Second)
	// Writes of other keys advance the sweep: the expired keys go, unread.
	for i := range 100 {
		require.NoError(t, c.Set(bg, "new"+strconv.Itoa(i), i, 0))
	}
	assert.Equal(t, 100, c.Len(), "every expired entry was swept")
	assert.Equal(t, uint64(100), c.Stats().Expirations)

	for i := range 10 {
		require.NoError(t, c.Set(bg, "x"+strconv.Itoa(i), i, time.Second))
	}
	clk.Advance(time.Second)
	assert.Equal(t, 10, c.DeleteExpired())
	assert.Equal(t, 100, c.Len())
}

func TestLRUExpiredTailCountsAsExpiration(t *testing.T) {
	clk := newFakeClock()
	c := mustLRU[int](t, 2, WithClock(clk.Now))
	require.NoError(t, c.Set(bg, "a", 1, time.Second))
	require.NoError(t, c.Set(bg, "b", 2, 0))
	clk.Advance(time.Second)
	require.NoError(t, c.Set(bg, "c", 3, 0))
	st := c.Stats()
	assert.Equal(t, uint64(1), st.Expirations)
	assert.Equal(t, uint64(0), st.Evictions)
}

func TestLRUDeleteAndPurge(t *testing.T) {
	c := mustLRU[int](t, 10)
	for i := range 5 {
		require.NoError(t, c.Set(bg, strconv.Itoa(i), i, 0))
	}
	require.NoError(t, c.Delete(bg, "1", "3", "missing"))
	assert.Equal(t, 3, c.Len())
	_, ok := get[int](t, c, "1")
	assert.False(t, ok)
	c.Purge()
	assert.Equal(t, 0, c.Len())
	_, ok = get[int](t, c, "0")
	assert.False(t, ok)
	require.NoError(t, c.Set(bg, "z", 26, 0))
	v, ok := get[int](t, c, "z")
	assert.True(t, ok)
	assert.Equal(t, 26, v)
}

func TestLRUMaxCost(t *testing.T) {
	c := mustLRU[string](t, 100, WithMaxCost(10, func(v string) int64 { return int64(len(v)) }))
	require.NoError(t, c.Set(bg, "a", "xxxx", 0)) // 4
	require.NoError(t, c.Set(bg, "b", "xxxx", 0)) // 8
	require.NoError(t, c.Set(bg, "c", "xxxx", 0)) // 12 > 10: a goes
	_, ok := get[string](t, c, "a")
	assert.False(t, ok)
	assert.Equal(t, 2, c.Len())
	// Growing b in place pushes c out (c is older than the updated b).
	require.NoError(t, c.Set(bg, "b", "xxxxxxxx", 0))
	_, ok = get[string](t, c, "c")
	assert.False(t, ok)
	// Too big ever: refused, and the old value does not linger.
	require.NoError(t, c.Set(bg, "b", "xxxxxxxxxxx", 0))
	_, ok = get[string](t, c, "b")
	assert.False(t, ok)
	assert.Equal(t, uint64(1), c.Stats().Rejections)
	assert.Equal(t, uint64(2), c.Stats().Evictions)
}

func TestLRUCostFunctionTypeChecked(t *testing.T) {
	_, err := NewLRU[int](10, WithMaxCost(10, func(v string) int64 { return 1 }))
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.Contains(t, err.Error(), "func(int) int64")
}

func TestLRUNegativeEntries(t *testing.T) {
	c := mustLRU[int](t, 10)
	require.NoError(t, c.SetEntry(bg, "gone", Entry[int]{NotFound: true, TTL: time.Second}))
	_, ok := get[int](t, c, "gone")
	assert.False(t, ok, "Get treats a negative entry as a miss")
	e, ok, err := c.GetEntry(bg, "gone")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.True(t, e.NotFound)
}

func TestLRUBadRequests(t *testing.T) {
	c := mustLRU[int](t, 10)
	assert.ErrorIs(t, c.Set(bg, "k", 1, -time.Second), ErrInvalidRequest)
	assert.ErrorIs(t, c.SetEntry(bg, "k", Entry[int]{TTL: -1}), ErrInvalidRequest)
}

func TestLRUConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		capacity int
		opts     []LRUOption
	}{
		"zero capacity":         {0, nil},
		"negative capacity":     {-1, nil},
		"too many shards":       {10_000, []LRUOption{WithShards(1025)}},
		"zero shards":           {100, []LRUOption{WithShards(0)}},
		"more shards than room": {4, []LRUOption{WithShards(8)}},
		"nil clock":             {10, []LRUOption{WithClock(nil)}},
		"nil option":            {10, []LRUOption{nil}},
		"zero max cost":         {10, []LRUOption{WithMaxCost(0, func(int) int64 { return 1 })}},
		"nil cost func":         {10, []LRUOption{WithMaxCost[int](10, nil)}},
		"budget below shards":   {100, []LRUOption{WithShards(4), WithMaxCost(2, func(int) int64 { return 1 })}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewLRU[int](tc.capacity, tc.opts...)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

// TestLRUHoldsExactlyCapacity: by default an LRU of capacity n holds n
// distinct keys without evicting any, and the next key evicts exactly one.
func TestLRUHoldsExactlyCapacity(t *testing.T) {
	for _, n := range []int{1, 3, 1024, 5000} {
		c := mustLRU[int](t, n)
		for i := range n {
			require.NoError(t, c.Set(bg, "k"+strconv.Itoa(i), i, 0))
		}
		require.Equal(t, n, c.Len(), "capacity %d", n)
		require.Zero(t, c.Stats().Evictions, "capacity %d: evicted before full", n)
		require.NoError(t, c.Set(bg, "one more", -1, 0))
		assert.Equal(t, n, c.Len(), "capacity %d", n)
		assert.Equal(t, uint64(1), c.Stats().Evictions, "capacity %d", n)
		_, ok := get[int](t, c, "k0")
		assert.False(t, ok, "capacity %d: the oldest key went", n)
	}
}

// TestLRUEvictionOrderIsExact: by default the keys evicted are exactly the
// least recently used ones of the whole cache, however keys hash.
func TestLRUEvictionOrderIsExact(t *testing.T) {
	const n = 1024
	c := mustLRU[int](t, n)
	rng := rand.New(rand.NewSource(3))
	var recency []string // least recently used first
	use := func(k string) {
		for i, r := range recency {
			if r == k {
				recency = append(recency[:i], recency[i+1:]...)
				break
			}
		}
		recency = append(recency, k)
	}
	for i := range n {
		k := "k" + strconv.Itoa(i)
		require.NoError(t, c.Set(bg, k, i, 0))
		use(k)
	}
	for range 2 * n { // reorder: touch keys at random, by Get and by Set
		k := "k" + strconv.Itoa(rng.Intn(n))
		if rng.Intn(2) == 0 {
			_, ok := get[int](t, c, k)
			require.True(t, ok)
		} else {
			require.NoError(t, c.Set(bg, k, 0, 0))
		}
		use(k)
	}
	const m = n / 2 // new keys: they evict the m least recently used
	for i := range m {
		require.NoError(t, c.Set(bg, "new"+strconv.Itoa(i), i, 0))
	}
	for i, k := range recency {
		_, ok := get[int](t, c, k)
		require.Equal(t, i >= m, ok, "key %s, %d-th least recently used", k, i)
	}
	assert.Equal(t, uint64(m), c.Stats().Evictions)
	assert.Equal(t, n, c.Len())
}

// TestLRUMaxCostIsExact: by default the whole budget is available to any
// one value, and it is the total that is bounded.
func TestLRUMaxCostIsExact(t *testing.T) {
	size := func(v string) int64 { return int64(len(v)) }
	c := mustLRU[string](t, 1024, WithMaxCost(1000, size))
	require.NoError(t, c.Set(bg, "30%", strings.Repeat("x", 300), 0))
	_, ok := get[string](t, c, "30%")
	require.True(t, ok, "a value costing 30%% of the budget, into an empty cache: %+v", c.Stats())

	require.NoError(t, c.Set(bg, "all", strings.Repeat("x", 1000), 0))
	_, ok = get[string](t, c, "all")
	require.True(t, ok, "a value costing the whole budget")
	_, ok = get[string](t, c, "30%")
	assert.False(t, ok, "evicted to make room")

	require.NoError(t, c.Set(bg, "too big", strings.Repeat("x", 1001), 0))
	_, ok = get[string](t, c, "too big")
	assert.False(t, ok)
	assert.Equal(t, uint64(1), c.Stats().Rejections)

	c.Purge() // 100 values of 10 fill the budget exactly, without eviction
	for i := range 100 {
		require.NoError(t, c.Set(bg, strconv.Itoa(i), "0123456789", 0))
	}
	assert.Equal(t, 100, c.Len())
	assert.Equal(t, uint64(1), c.Stats().Evictions, "only the one for \"all\"")
}

// TestLRUShardedIsApproximate documents what WithShards(n > 1) trades
// away: per-shard capacity and cost shares.
func TestLRUShardedIsApproximate(t *testing.T) {
	for _, shards := range []int{1, 3, 4, 16} {
		c := mustLRU[int](t, 1000, WithShards(shards))
		for i := range 1000 {
			require.NoError(t, c.Set(bg, strconv.Itoa(i), i, 0))
		}
		if shards == 1 {
			assert.Equal(t, 1000, c.Len())
		} else {
			assert.Greater(t, c.Len(), 800, "shards=%d: shards fill up", shards)
		}
		for i := range 10_000 {
			require.NoError(t, c.Set(bg, strconv.Itoa(i), i, 0))
		}
		assert.LessOrEqual(t, c.Len(), 1000, "shards=%d", shards)
		assert.Greater(t, c.Len(), 900, "shards=%d: shards fill up", shards)
	}

	size := func(v string) int64 { return int64(len(v)) }
	c := mustLRU[string](t, 1024, WithShards(4), WithMaxCost(1000, size))
	require.NoError(t, c.Set(bg, "share", strings.Repeat("x", 250), 0))
	require.NoError(t, c.Set(bg, "more", strings.Repeat("x", 251), 0))
	_, ok := get[string](t, c, "share")
	assert.True(t, ok, "a shard's share of the budget fits")
	_, ok = get[string](t, c, "more")
	assert.False(t, ok, "more than a shard's share never does")
}

// TestLRUMatchesModel checks the single-shard LRU against a simple
// reference implementation over random operations: exactly without TTLs;
// with TTLs (when the LRU may reclaim expired entries at any time, and so
// evict less) it must never return a value that expired or was replaced.
func TestLRUMatchesModel(t *testing.T) {
	for _, withTTL := range []bool{false, true} {
		t.Run(fmt.Sprint("ttl=", withTTL), func(t *testing.T) {
			clk := newFakeClock()
			const capacity = 8
			c := mustLRU[int](t, capacity, WithClock(clk.Now))
			type mEntry struct {
				key     string
				v       int
				expires time.Time // zero: never
			}
			var model []mEntry // most recent first; no TTLs
			last := map[string]mEntry{}
			alive := func(e mEntry) bool { return e.expires.IsZero() || clk.Now().Before(e.expires) }
			find := func(k string) int {
				for i, e := range model {
					if e.key == k {
						return i
					}
				}
				return -1
			}
			rng := rand.New(rand.NewSource(1))
			for step := range 20_000 {
				k := strconv.Itoa(rng.Intn(12))
				switch op := rng.Intn(10); {
				case op < 5:
					v, ok := get[int](t, c, k)
					if withTTL {
						if ok {
							e, had := last[k]
							require.True(t, had && alive(e), "step %d: %s returned after expiry or delete", step, k)
							require.Equal(t, e.v, v)
						}
						continue
					}
					i := find(k)
					require.Equal(t, i >= 0, ok, "step %d get %s", step, k)
					if i >= 0 {
						e := model[i]
						require.Equal(t, e.v, v)
						model = append(model[:i], model[i+1:]...)
						model = append([]mEntry{e}, model...)
					}
				case op < 8:
					var ttl time.Duration
					if withTTL && rng.Intn(2) == 0 {
						ttl = time.Duration(1+rng.Intn(5)) * time.Second
					}
					require.NoError(t, c.Set(bg, k, step, ttl))
					e := mEntry{key: k, v: step}
					if ttl > 0 {
						e.expires = clk.Now().Add(ttl)
					}
					last[k] = e
					if i := find(k); i >= 0 {
						model = append(model[:i], model[i+1:]...)
					} else if len(model) == capacity {
						model = model[:capacity-1]
					}
					model = append([]mEntry{e}, model...)
				case op < 9:
					require.NoError(t, c.Delete(bg, k))
					delete(last, k)
					if i := find(k); i >= 0 {
						model = append(model[:i], model[i+1:]...)
					}
				default:
					clk.Advance(time.Duration(rng.Intn(1500)) * time.Millisecond)
				}
				require.LessOrEqual(t, c.Len(), capacity)
				if !withTTL {
					require.Equal(t, len(model), c.Len())
				}
			}
		})
	}
}

func TestLRUConcurrent(t *testing.T) {
	clk := newFakeClock()
	c := mustLRU[int](t, 500, WithClock(clk.Now), WithTinyLFU())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(g)))
			for i := range 5000 {
				k := strconv.Itoa(rng.Intn(2000))
				switch i % 4 {
				case 0:
					_ = c.Set(bg, k, i, time.Duration(rng.Intn(3))*time.Second)
				case 1:
					_ = c.Delete(bg, k)
				default:
					if v, ok, _ := c.Get(bg, k); ok && v < 0 {
						panic("impossible")
					}
				}
				if i%500 == 0 {
					clk.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 500)
	st := c.Stats()
	assert.Equal(t, uint64(8*5000/2), st.Hits+st.Misses)
}

func TestTinyLFUKeepsFrequentKeys(t *testing.T) {
	// A hot set that fits, then a scan of one-off keys: plain LRU loses the
	// hot set, TinyLFU keeps it.
	run := func(opts ...LRUOption) float64 {
		c := mustLRU[int](t, 100, opts...)
		rng := rand.New(rand.NewSource(7))
		for i := range 20_000 {
			k := "hot" + strconv.Itoa(rng.Intn(80))
			if i%2 == 1 {
				k = "scan" + strconv.Itoa(i)
			}
			if _, ok, _ := c.Get(bg, k); !ok {
				_ = c.Set(bg, k, i, 0)
			}
		}
		before := c.Stats()
		for i := range 80 {
			_, _, _ = c.Get(bg, "hot"+strconv.Itoa(i))
		}
		after := c.Stats()
		return float64(after.Hits-before.Hits) / 80
	}
	lru, tiny := run(), run(WithTinyLFU())
	t.Logf("hot keys still cached after the scan: LRU %.2f, TinyLFU %.2f", lru, tiny)
	assert.Greater(t, tiny, 0.8)
	assert.Greater(t, tiny, lru+0.2)
}

func TestSketchEstimates(t *testing.T) {
	s := newSketch(64)
	for i := range 10 {
		for range i {
			s.add(uint32(i * 7919))
		}
	}
	assert.Equal(t, 0, s.estimate(uint32(0)))
	for i := 1; i < 10; i++ {
		assert.GreaterOrEqual(t, s.estimate(uint32(i*7919)), i, fmt.Sprint(i))
	}
	s.age()
	assert.LessOrEqual(t, s.estimate(uint32(9*7919)), 5)
}
