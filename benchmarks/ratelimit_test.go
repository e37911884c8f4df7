package benchmarks

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/sethvargo/go-limiter/memorystore"
	"golang.org/x/time/rate"

	"github.com/sysdesign/patterns/ratelimit"
)

// A limit generous enough that benchmarks measure the decision, mostly
// allowed, the same for every library.
const (
	benchRate  = 100_000_000
	benchBurst = 1000
)

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// One hot key: our memory token bucket against x/time/rate's Limiter,
// which is a single bucket (no keys at all).
func BenchmarkRateLimitHotKey(b *testing.B) {
	ctx := context.Background()
	b.Run("lib=patterns-memory", func(b *testing.B) {
		lim, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.Limit{Rate: benchRate, Period: time.Second, Burst: benchBurst})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			_, _ = lim.Allow(ctx, "hot")
		}
		reportRate(b)
	})
	b.Run("lib=x-time-rate", func(b *testing.B) {
		lim := rate.NewLimiter(rate.Limit(benchRate), benchBurst)
		b.ReportAllocs()
		for b.Loop() {
			_ = lim.Allow()
		}
		reportRate(b)
	})
}

// The same race, interleaved: blocks of hotKeyBlock decisions alternate
// between the two libraries (each going first in turn), so a noisy machine
// slows both alike. Reports each one's median ns per decision over the
// blocks and ratio, the median of the pairs' ours/theirs: the target is
// ratio ≤ 1.0.
func BenchmarkRateLimitHotKeyRatio(b *testing.B) {
	ctx := context.Background()
	ours, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.Limit{Rate: benchRate, Period: time.Second, Burst: benchBurst})
	if err != nil {
		b.Fatal(err)
	}
	theirs := rate.NewLimiter(rate.Limit(benchRate), benchBurst)
	runOurs := func() {
		for range hotKeyBlock {
			_, _ = ours.Allow(ctx, "hot")
		}
	}
	runTheirs := func() {
		for range hotKeyBlock {
			_ = theirs.Allow()
		}
	}
	timed := func(f func()) float64 {
		start := time.Now()
		f()
		return float64(time.Since(start).Nanoseconds()) / hotKeyBlock
	}
	// No ReportAllocs: the samples kept for the medians would show as
	// allocations; BenchmarkRateLimitHotKey reports both libraries' (0).
	var oursNS, theirsNS, ratios []float64
	for i := 0; b.Loop(); i++ {
		var o, t float64
		if i%2 == 0 {
			o = timed(runOurs)
			t = timed(runTheirs)
		} else {
			t = timed(runTheirs)
			o = timed(runOurs)
		}
		oursNS, theirsNS, ratios = append(oursNS, o), append(theirsNS, t), append(ratios, o/t)
	}
	b.ReportMetric(median(oursNS), "patterns-ns/decision")
	b.ReportMetric(median(theirsNS), "x-time-rate-ns/decision")
	b.ReportMetric(median(ratios), "ratio")
}

// hotKeyBlock decisions take tens of µs: short enough that both libraries
// of a pair see the same machine, long enough that reading the clock
// around them costs nothing.
const hotKeyBlock = 200

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

const manyKeys = 100_000

func keyNames(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
	}
	return keys
}

// 100k keys, serial and parallel: our memory limiter against
// sethvargo/go-limiter's memorystore (a token bucket per key). 10/s with a
// burst of 1000: each key is hit every few tens of ms, so keys stay active
// (none is swept as idle) and most decisions allow, in both libraries.
func BenchmarkRateLimitManyKeys(b *testing.B) {
	keys := keyNames(manyKeys)
	ctx := context.Background()
	libs := []struct {
		name  string
		setup func(b *testing.B) func(key string)
	}{
		{"patterns-memory", func(b *testing.B) func(string) {
			lim, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 1000})
			if err != nil {
				b.Fatal(err)
			}
			return func(k string) { _, _ = lim.Allow(ctx, k) }
		}},
		{"sethvargo-memorystore", func(b *testing.B) func(string) {
			store, err := memorystore.New(&memorystore.Config{Tokens: 1000, Interval: 100 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = store.Close(ctx) })
			return func(k string) { _, _, _, _, _ = store.Take(ctx, k) }
		}},
	}
	// Keys in insertion order favour stores whose per-key objects were
	// allocated in that order (the prefetcher follows them); real clients
	// arrive in no particular order. Both are reported.
	orders := map[string][]int{"sequential": make([]int, len(keys)), "random": rand.New(rand.NewSource(1)).Perm(len(keys))}
	for i := range orders["sequential"] {
		orders["sequential"][i] = i
	}
	for _, lib := range libs {
		for _, order := range []string{"random", "sequential"} {
			seq := orders[order]
			b.Run("lib="+lib.name+"/mode=serial/order="+order, func(b *testing.B) {
				allow := lib.setup(b)
				for _, k := range keys {
					allow(k)
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					allow(keys[seq[i]])
					if i++; i == len(seq) {
						i = 0
					}
				}
				reportRate(b)
			})
			b.Run("lib="+lib.name+"/mode=parallel/order="+order, func(b *testing.B) {
				allow := lib.setup(b)
				for _, k := range keys {
					allow(k)
				}
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := rand.Intn(len(seq))
					for pb.Next() {
						allow(keys[seq[i]])
						if i++; i == len(seq) {
							i = 0
						}
					}
				})
				reportRate(b)
			})
		}
	}
}

// Heap per tracked key at 1M keys, beyond the key strings themselves
// (allocated before the measurement and kept alive by the caller).
func BenchmarkRateLimitHeapPerKey(b *testing.B) {
	const n = 1_000_000
	keys := keyNames(n)
	ctx := context.Background()
	measure := func(b *testing.B, fill func()) {
		var before, after runtime.MemStats
		for b.Loop() {
			runtime.GC()
			runtime.ReadMemStats(&before)
			fill()
			runtime.GC()
			runtime.ReadMemStats(&after)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/key")
		runtime.KeepAlive(keys)
	}
	b.Run("lib=patterns-memory", func(b *testing.B) {
		var lim *ratelimit.Memory
		measure(b, func() {
			// per hour: no key goes idle (and is dropped) during the measurement
			lim, _ = ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerHour(10))
			for _, k := range keys {
				_, _ = lim.Allow(ctx, k)
			}
		})
		if lim.Keys() != n {
			b.Fatalf("holds %d keys, want %d", lim.Keys(), n)
		}
	})
	b.Run("lib=sethvargo-memorystore", func(b *testing.B) {
		var store interface{ Close(context.Context) error }
		measure(b, func() {
			s, _ := memorystore.New(&memorystore.Config{Tokens: 10, Interval: time.Hour})
			for _, k := range keys {
				_, _, _, _, _ = s.Take(ctx, k)
			}
			store = s
		})
		_ = store.Close(ctx)
	})
}

func redisClient(b *testing.B) *redis.Client {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through make bench-compare, which starts a redis-server")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 32})
	b.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		b.Fatalf("redis at %s: %v", addr, err)
	}
	return c
}

// redisRate is the limit of the Redis comparison: 1M/s, burst 1000, so
// every decision is allowed and both libraries write their state. (At
// benchRate, redis_rate's float arithmetic on seconds since 2017 cannot
// represent the 10ns increment, so it never writes: not a fair race.)
const redisRate = 1_000_000

// Redis token bucket at 1 and 16 goroutines against the same real Redis:
// ours against go-redis/redis_rate (GCRA, one script per decision too).
func BenchmarkRateLimitRedis(b *testing.B) {
	ctx := context.Background()
	libs := []struct {
		name  string
		setup func(b *testing.B, c *redis.Client) func(key string) error
	}{
		{"patterns-redis", func(b *testing.B, c *redis.Client) func(string) error {
			return patternsRedis(b, c)
		}},
		{"patterns-redis-without-timeout", func(b *testing.B, c *redis.Client) func(string) error {
			return patternsRedis(b, c, ratelimit.WithoutTimeout())
		}},
		{"redis_rate", func(b *testing.B, c *redis.Client) func(string) error {
			lim := redis_rate.NewLimiter(c)
			l := redis_rate.Limit{Rate: redisRate, Burst: benchBurst, Period: time.Second}
			return func(k string) error { _, err := lim.Allow(ctx, k, l); return err }
		}},
	}
	for _, lib := range libs {
		for _, g := range []int{1, 16} {
			b.Run(fmt.Sprintf("lib=%s/goroutines=%d", lib.name, g), func(b *testing.B) {
				allow := lib.setup(b, redisClient(b))
				if err := allow("warm"); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				if g == 1 {
					for b.Loop() {
						if err := allow("k1"); err != nil {
							b.Fatal(err)
						}
					}
					reportRate(b)
					return
				}
				b.SetParallelism(g / runtime.GOMAXPROCS(0)) // g goroutines in all
				b.RunParallel(func(pb *testing.PB) {
					key := fmt.Sprint("k", rand.Int())
					for pb.Next() {
						if err := allow(key); err != nil {
							b.Error(err)
							return
						}
					}
				})
				reportRate(b)
			})
		}
	}
}

// patternsRedis is our Redis token bucket; by default every call is bounded
// by a 100ms timeout of its own (context.WithTimeout: 5 allocations), which
// redis_rate does not have.
func patternsRedis(b *testing.B, c *redis.Client, opts ...ratelimit.RedisOption) func(string) error {
	opts = append(opts, ratelimit.WithPrefix(fmt.Sprintf("bench:%d:", time.Now().UnixNano())))
	lim, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, ratelimit.Limit{Rate: redisRate, Period: time.Second, Burst: benchBurst}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	return func(k string) error { _, err := lim.Allow(ctx, k); return err }
}

// Leased (leases of 64) against the plain Redis limiter it spends, one
// busy key per goroutine: the cost per decision of a lease hit plus one
// Redis call per 64 decisions, against one Redis call per decision.
//
//	cd benchmarks && ../scripts/with-redis.sh go test -run '^$' -bench 'RateLimitLeased' -benchtime 1s -count 3
func BenchmarkRateLimitLeased(b *testing.B) {
	ctx := context.Background()
	limit := ratelimit.Limit{Rate: redisRate, Period: time.Second, Burst: 100_000}
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range []string{"leased", "redis"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/lib=%s", target, g, lib), func(b *testing.B) {
					c := pipeClient(b, target)
					var lim ratelimit.Limiter
					lim, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, limit, ratelimit.WithPrefix(benchPrefixFor("rll")), ratelimit.WithTimeout(time.Second))
					if err != nil {
						b.Fatal(err)
					}
					if lib == "leased" {
						if lim, err = ratelimit.NewLeased(lim, limit); err != nil {
							b.Fatal(err)
						}
					}
					keys := make([]string, g)
					for i := range keys {
						keys[i] = "k" + strconv.Itoa(i)
					}
					concurrently(b, g, "decisions/s", func(w int) error {
						_, err := lim.Allow(ctx, keys[w])
						return err
					})
				})
			}
		}
	}
}
