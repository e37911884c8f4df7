package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/cache"
)

// pipeCacheKeys is how many keys the cache benchmarks spread over, each
// holding a value of 100 bytes.
const pipeCacheKeys = 1000

// pipeCache is our Redis cache on c under prefix, with a 1s bound (default
// 100ms, as for the limiter: the plain go-redis loops have none at all),
// pipelined unless unpipelined.
func pipeCache(b *testing.B, c redis.UniversalClient, prefix string, unpipelined bool) *cache.Redis[[]byte] {
	opts := []cache.RedisOption{cache.WithPrefix(prefix), cache.WithTimeout(time.Second)}
	if unpipelined {
		opts = append(opts, cache.WithoutPipelining())
	}
	rc, err := cache.NewRedis[[]byte](c, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return rc
}

// pipeCacheRaw is the Redis key our cache stores key under with prefix,
// for the plain go-redis loops to use the same keys.
func pipeCacheRaw(prefix, key string) string { return prefix + "{}v:" + key }

// Cache hits: our Redis cache's Get (pipelined, and WithoutPipelining) and
// an Aside over it (its Get reads the entry with its TTL: one GET too,
// the TTL left being in the value's header) against a plain go-redis GET loop on the same client, 1,000 keys
// of 100 bytes. Issue 13's targets: patterns and patterns-aside at
// goroutines=64 at least 3× go-redis-GET.
func BenchmarkPipeliningCacheGet(b *testing.B) {
	ctx := context.Background()
	value := []byte(strings.Repeat("v", 100))
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range []string{"patterns", "patterns-unpipelined", "patterns-aside", "go-redis-GET"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/lib=%s", target, g, lib), func(b *testing.B) {
					c := pipeClient(b, target)
					prefix := benchPrefixFor("cache")
					rc := pipeCache(b, c, prefix, lib == "patterns-unpipelined")
					keys := make([]string, pipeCacheKeys)
					for i := range keys {
						keys[i] = "k" + strconv.Itoa(i)
						if err := rc.Set(ctx, keys[i], value, time.Minute); err != nil {
							b.Fatal(err)
						}
					}
					var get func(key string) error
					switch lib {
					case "go-redis-GET":
						if err := c.Get(ctx, pipeCacheRaw(prefix, keys[0])).Err(); err != nil {
							b.Fatalf("plain GET of %s: %v", pipeCacheRaw(prefix, keys[0]), err)
						}
						get = func(k string) error { return c.Get(ctx, pipeCacheRaw(prefix, k)).Err() }
					case "patterns-aside":
						load := func(ctx context.Context, key string) ([]byte, error) {
							return nil, errors.New("loader called: every key is cached")
						}
						a, err := cache.NewAside[[]byte](rc, load)
						if err != nil {
							b.Fatal(err)
						}
						defer a.Close()
						get = func(k string) error {
							_, err := a.Get(ctx, k)
							return err
						}
					default:
						get = func(k string) error {
							_, ok, err := rc.Get(ctx, k)
							if err == nil && !ok {
								err = fmt.Errorf("miss on %s", k)
							}
							return err
						}
					}
					var n atomic.Int64
					concurrently(b, g, "gets/s", func(int) error {
						return get(keys[int(n.Add(1))%len(keys)])
					})
				})
			}
		}
	}
}

// Cache writes: our Redis cache's Set (pipelined, and WithoutPipelining)
// against a plain go-redis SET loop with the same TTL on the same client,
// 1,000 keys of 100 bytes.
func BenchmarkPipeliningCacheSet(b *testing.B) {
	ctx := context.Background()
	value := []byte(strings.Repeat("v", 100))
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range []string{"patterns", "patterns-unpipelined", "go-redis-SET"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/lib=%s", target, g, lib), func(b *testing.B) {
					c := pipeClient(b, target)
					prefix := benchPrefixFor("cache-set")
					rc := pipeCache(b, c, prefix, lib == "patterns-unpipelined")
					keys := make([]string, pipeCacheKeys)
					for i := range keys {
						keys[i] = "k" + strconv.Itoa(i)
					}
					set := func(k string) error { return rc.Set(ctx, k, value, time.Minute) }
					if lib == "go-redis-SET" {
						set = func(k string) error { return c.Set(ctx, pipeCacheRaw(prefix, k), value, time.Minute).Err() }
					}
					var n atomic.Int64
					concurrently(b, g, "sets/s", func(int) error {
						return set(keys[int(n.Add(1))%len(keys)])
					})
				})
			}
		}
	}
}

// BenchmarkPipeliningCacheGetRatio measures issue 13's cache targets as
// ratios within one run, at 64 goroutines: each iteration runs a round of
// pipeCacheRound hits through our Redis cache's Get, through an Aside
// over it, and through a plain go-redis GET loop on the same client, in
// an order that rotates, so that a shared machine's load changes weigh on
// all three alike. It reports each side's gets/s over the rounds and the
// ratios patterns/go-redis and aside/go-redis (targets: at least 3).
func BenchmarkPipeliningCacheGetRatio(b *testing.B) {
	const goroutines = 64
	ctx := context.Background()
	value := []byte(strings.Repeat("v", 100))
	for _, target := range pipeTargets(b) {
		b.Run(fmt.Sprintf("target=%s/goroutines=%d", target, goroutines), func(b *testing.B) {
			c := pipeClient(b, target)
			prefix := benchPrefixFor("cache-ratio")
			rc := pipeCache(b, c, prefix, false)
			a, err := cache.NewAside[[]byte](rc, func(ctx context.Context, key string) ([]byte, error) {
				return nil, errors.New("loader called: every key is cached")
			})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			keys := make([]string, pipeCacheKeys)
			for i := range keys {
				keys[i] = "k" + strconv.Itoa(i)
				// An hour: a run with a large -benchtime must not see them expire.
				if err := rc.Set(ctx, keys[i], value, time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			sides := []struct {
				name string
				get  func(key string) error
			}{
				{"patterns", func(k string) error {
					_, ok, err := rc.Get(ctx, k)
					if err == nil && !ok {
						err = fmt.Errorf("miss on %s", k)
					}
					return err
				}},
				{"aside", func(k string) error { _, err := a.Get(ctx, k); return err }},
				{"go-redis", func(k string) error { return c.Get(ctx, pipeCacheRaw(prefix, k)).Err() }},
			}
			took := make([]time.Duration, len(sides))
			round := 0
			for b.Loop() {
				for j := range sides {
					i := (round + j) % len(sides)
					start := time.Now()
					if err := pipeCacheRound(goroutines, keys, sides[i].get); err != nil {
						b.Fatalf("%s: %v", sides[i].name, err)
					}
					took[i] += time.Since(start)
				}
				round++
			}
			rate := func(i int) float64 { return float64(round*pipeCacheRoundCalls) / took[i].Seconds() }
			for i, s := range sides {
				b.ReportMetric(rate(i), s.name+"-gets/s")
			}
			b.ReportMetric(rate(0)/rate(2), "patterns/go-redis")
			b.ReportMetric(rate(1)/rate(2), "aside/go-redis")
		})
	}
}

// pipeCacheRoundCalls is how many calls one round of
// BenchmarkPipeliningCacheGetRatio makes per side.
const pipeCacheRoundCalls = 8192

// pipeCacheRound makes pipeCacheRoundCalls calls of get over keys from g
// goroutines and returns the first error.
func pipeCacheRound(g int, keys []string, get func(string) error) error {
	var next atomic.Int64
	var first atomic.Pointer[error]
	var wg sync.WaitGroup
	for range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > pipeCacheRoundCalls {
					return
				}
				if err := get(keys[int(n)%len(keys)]); err != nil {
					first.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if p := first.Load(); p != nil {
		return *p
	}
	return nil
}
