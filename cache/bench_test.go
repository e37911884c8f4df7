package cache

import (
	"context"
	"math/rand"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

const benchKeys = 10_000

func benchKeyNames(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	return keys
}

func filledLRU(b *testing.B, ttl time.Duration, opts ...LRUOption) (*LRU[int], []string) {
	// Room to spare: with WithShards a shard holds 1/n of the capacity,
	// and keys do not spread over shards perfectly evenly.
	c, err := NewLRU[int](2*benchKeys, opts...)
	if err != nil {
		b.Fatal(err)
	}
	keys := benchKeyNames(benchKeys)
	for i, k := range keys {
		_ = c.Set(bg, k, i, ttl)
	}
	return c, keys
}

// lruShardings are the layouts the Get benchmarks compare: the default
// (one shard: exact LRU) and WithShards(16) (approximate, for parallel
// readers).
var lruShardings = []struct {
	name string
	opts []LRUOption
}{
	{"shards=1", nil},
	{"shards=16", []LRUOption{WithShards(16)}},
}

// BenchmarkLRUGet: hits on a full 10k-entry LRU, keys in a fixed
// pseudo-random order, with and without TTLs (with them every Get reads
// the clock).
func BenchmarkLRUGet(b *testing.B) {
	for _, sh := range lruShardings {
		for _, ttl := range []time.Duration{0, time.Hour} {
			b.Run(sh.name+"/ttl="+ttl.String(), func(b *testing.B) {
				c, keys := filledLRU(b, ttl, sh.opts...)
				order := rand.New(rand.NewSource(1)).Perm(len(keys))
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, ok, _ := c.Get(bg, keys[order[i]]); !ok {
						b.Fatal("miss")
					}
					if i++; i == len(order) {
						i = 0
					}
				}
			})
		}
	}
}

// BenchmarkLRUGetParallel: the same hits from every core at once.
func BenchmarkLRUGetParallel(b *testing.B) {
	for _, sh := range lruShardings {
		for _, ttl := range []time.Duration{0, time.Hour} {
			b.Run(sh.name+"/ttl="+ttl.String(), func(b *testing.B) {
				c, keys := filledLRU(b, ttl, sh.opts...)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					i := rand.Intn(len(keys))
					for pb.Next() {
						if _, ok, _ := c.Get(bg, keys[i]); !ok {
							b.Fatal("miss")
						}
						if i++; i == len(keys) {
							i = 0
						}
					}
				})
			})
		}
	}
}

// BenchmarkLRUSet: writes that evict (20k keys through 10k entries).
func BenchmarkLRUSet(b *testing.B) {
	c, err := NewLRU[int](benchKeys)
	if err != nil {
		b.Fatal(err)
	}
	keys := benchKeyNames(2 * benchKeys)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = c.Set(bg, keys[i], i, time.Hour)
		if i++; i == len(keys) {
			i = 0
		}
	}
}

// BenchmarkLRUHitRatio replays a Zipf(1.01) trace of 1M requests over 100k
// keys through a 10k-entry cache (a miss is followed by a Set) and reports
// the hit ratio, for plain LRU and with TinyLFU admission.
func BenchmarkLRUHitRatio(b *testing.B) {
	trace := zipfTrace(1_000_000, 100_000, 1.01, 42)
	keys := benchKeyNames(100_000)
	for _, tc := range []struct {
		name string
		opts []LRUOption
	}{
		{"policy=lru/shards=1", nil},
		{"policy=lru/shards=16", []LRUOption{WithShards(16)}},
		{"policy=tinylfu/shards=1", []LRUOption{WithTinyLFU()}},
		{"policy=tinylfu/shards=16", []LRUOption{WithShards(16), WithTinyLFU()}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var ratio float64
			for b.Loop() {
				c, err := NewLRU[int](10_000, tc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				for _, k := range trace {
					if _, ok, _ := c.Get(bg, keys[k]); !ok {
						_ = c.Set(bg, keys[k], int(k), 0)
					}
				}
				ratio = c.Stats().HitRate()
			}
			b.ReportMetric(ratio, "hit-ratio")
		})
	}
}

func zipfTrace(n, keys int, s float64, seed int64) []uint64 {
	z := rand.NewZipf(rand.New(rand.NewSource(seed)), s, 1, uint64(keys-1))
	trace := make([]uint64, n)
	for i := range trace {
		trace[i] = z.Uint64()
	}
	return trace
}

// BenchmarkTieredLocalHit: Tiered.Get served by the local tier (no Redis
// round trip), entries with TTLs as Tiered always keeps them.
func BenchmarkTieredLocalHit(b *testing.B) {
	tg := redistest.New(b, redistest.Mini)
	local, err := NewLRU[int](2 * benchKeys)
	if err != nil {
		b.Fatal(err)
	}
	remote, err := NewRedis[int](tg.Client, WithPrefix(tg.Prefix))
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewTiered(local, remote)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for !c.live.Load() {
		time.Sleep(time.Millisecond)
	}
	keys := benchKeyNames(benchKeys)
	for i, k := range keys {
		if err := c.Set(bg, k, i, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range []int{1, benchKeys} {
		b.Run("keys="+strconv.Itoa(n), func(b *testing.B) {
			order := rand.New(rand.NewSource(1)).Perm(n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, ok, _ := c.Get(bg, keys[order[i]]); !ok {
					b.Fatal("miss")
				}
				if i++; i == len(order) {
					i = 0
				}
			}
			if c.Stats().LocalHits < uint64(b.N) {
				b.Fatal("not served locally")
			}
		})
	}
}

// BenchmarkAsideHit: Aside.Get over an LRU, a hit (XFetch check included).
func BenchmarkAsideHit(b *testing.B) {
	c, keys := filledLRU(b, time.Hour)
	a, err := NewAside(Cache[int](c), func(context.Context, string) (int, error) { return 0, nil })
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	for _, k := range keys {
		if err := c.SetEntry(bg, k, Entry[int]{Value: 1, LoadTime: time.Millisecond, TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := a.Get(bg, keys[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(keys) {
			i = 0
		}
	}
}

// BenchmarkAsideMissStampede: each op is a cold key asked for by 100
// goroutines at once: one load, 99 shared.
func BenchmarkAsideMissStampede(b *testing.B) {
	var loads atomic.Int64
	c, _ := NewLRU[int](1 << 20)
	a, err := NewAside(Cache[int](c), func(context.Context, string) (int, error) { loads.Add(1); return 1, nil })
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		key := strconv.Itoa(n)
		n++
		var wg sync.WaitGroup
		for range 100 {
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = a.Get(bg, key) }()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(loads.Load())/float64(n), "loads/op")
}

// BenchmarkRedisGet: a hit on the Redis cache, on a real server when
// PATTERNS_REDIS_ADDR is set, else on miniredis.
func BenchmarkRedisGet(b *testing.B) {
	kind := redistest.Mini
	if os.Getenv(redistest.EnvAddr) != "" {
		kind = redistest.Real
	}
	tg := redistest.New(b, kind)
	r, err := NewRedis[user](tg.Client, WithPrefix(tg.Prefix))
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Set(bg, "u", user{ID: 1, Name: "Ada", Tags: []string{"a", "b"}}, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.Run("backend="+string(kind), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, err := r.Get(bg, "u"); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
