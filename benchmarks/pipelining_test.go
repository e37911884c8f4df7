package benchmarks

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/ratelimit"
	"github.com/sysdesign/patterns/saga"
)

// Issue 13: concurrent Redis calls ride pipelines. Each benchmark runs our
// package pipelined (the default) and WithoutPipelining side by side, at
// 1, 16 and 64 goroutines (cqrs: 32 too), on one Redis and on the
// 3-master Cluster, all on one client built as a service would
// (ContextTimeoutEnabled, pool of 32). Run with scripts/with-redis.sh:
//
//	cd benchmarks && go test -run '^$' -bench 'Pipelining' -benchtime 2s -count 5

// pipeTargets are the real Redis targets of this environment.
func pipeTargets(b *testing.B) []string {
	var ts []string
	if os.Getenv("PATTERNS_REDIS_ADDR") != "" {
		ts = append(ts, "redis")
	}
	if os.Getenv("PATTERNS_REDIS_CLUSTER") != "" {
		ts = append(ts, "cluster")
	}
	if len(ts) == 0 {
		b.Skip("PATTERNS_REDIS_ADDR / PATTERNS_REDIS_CLUSTER not set: run through scripts/with-redis.sh")
	}
	return ts
}

// pipeClient is a new client of target, closed when b ends.
func pipeClient(b *testing.B, target string) redis.UniversalClient {
	var c redis.UniversalClient
	if target == "cluster" {
		var addrs []string
		for _, a := range strings.Split(os.Getenv("PATTERNS_REDIS_CLUSTER"), ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ContextTimeoutEnabled: true, PoolSize: 32})
	} else {
		c = redis.NewClient(&redis.Options{Addr: os.Getenv("PATTERNS_REDIS_ADDR"), ContextTimeoutEnabled: true, PoolSize: 32})
	}
	b.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		b.Fatalf("%s: %v", target, err)
	}
	return c
}

// concurrently runs call b.N times in all from g goroutines (w: the
// goroutine's number) and reports the rate as unit.
func concurrently(b *testing.B, g int, unit string, call func(w int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				if err := call(w); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), unit)
}

var pipeModes = []string{"pipelined", "unpipelined"}

func benchPrefixFor(what string) string {
	return fmt.Sprintf("bench:%s:%d:", what, time.Now().UnixNano())
}

// Token bucket decisions: ours pipelined, ours WithoutPipelining, and
// go-redis/redis_rate, one key per goroutine.
func BenchmarkPipeliningRateLimit(b *testing.B) {
	ctx := context.Background()
	limit := ratelimit.Limit{Rate: redisRate, Period: time.Second, Burst: benchBurst}
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range []string{"patterns-pipelined", "patterns-unpipelined", "redis_rate"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/lib=%s", target, g, lib), func(b *testing.B) {
					c := pipeClient(b, target)
					keys := make([]string, g)
					for i := range keys {
						keys[i] = "k" + strconv.Itoa(i)
					}
					var allow func(key string) error
					if lib == "redis_rate" {
						lim := redis_rate.NewLimiter(c)
						l := redis_rate.Limit{Rate: redisRate, Burst: benchBurst, Period: time.Second}
						allow = func(k string) error { _, err := lim.Allow(ctx, k, l); return err }
					} else {
						// A 1s bound, not the default 100ms: on a loaded
						// machine a decision can take longer, which would
						// fail the benchmark rather than slow it.
						opts := []ratelimit.RedisOption{ratelimit.WithPrefix(benchPrefixFor("rl")), ratelimit.WithTimeout(time.Second)}
						if lib == "patterns-unpipelined" {
							opts = append(opts, ratelimit.WithoutPipelining())
						}
						lim, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, limit, opts...)
						if err != nil {
							b.Fatal(err)
						}
						allow = func(k string) error { _, err := lim.Allow(ctx, k); return err }
					}
					if err := allow("warm"); err != nil {
						b.Fatal(err)
					}
					concurrently(b, g, "decisions/s", func(w int) error { return allow(keys[w]) })
				})
			}
		}
	}
}

type pipeSagaData struct {
	OrderID string
	Amount  int
}

// Three-step sagas of no-op steps on the Redis log.
func BenchmarkPipeliningSaga(b *testing.B) {
	ctx := context.Background()
	nop := func(context.Context, *pipeSagaData) error { return nil }
	steps := []saga.Step[pipeSagaData]{
		{Name: "reserve", Action: nop, Compensate: nop},
		{Name: "charge", Action: nop, Compensate: nop},
		{Name: "confirm", Action: nop},
	}
	var ids atomic.Int64
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, mode := range pipeModes {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/mode=%s", target, g, mode), func(b *testing.B) {
					c := pipeClient(b, target)
					opts := []saga.LogOption{saga.WithPrefix(benchPrefixFor("saga")), saga.WithRetention(time.Minute)}
					if mode == "unpipelined" {
						opts = append(opts, saga.WithoutPipelining())
					}
					rl, err := saga.NewRedisLog(c, opts...)
					if err != nil {
						b.Fatal(err)
					}
					s, err := saga.New("bench", steps, saga.WithLog(rl))
					if err != nil {
						b.Fatal(err)
					}
					concurrently(b, g, "sagas/s", func(int) error {
						_, err := s.Execute(ctx, "s"+strconv.FormatInt(ids.Add(1), 10), pipeSagaData{OrderID: "o", Amount: 1})
						return err
					})
				})
			}
		}
	}
}

// Checked single-event appends, one stream per goroutine.
func BenchmarkPipeliningCQRS(b *testing.B) {
	ctx := context.Background()
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 32, 64} {
			for _, mode := range pipeModes {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/mode=%s", target, g, mode), func(b *testing.B) {
					c := pipeClient(b, target)
					opts := []cqrs.Option{cqrs.WithPrefix(benchPrefixFor("cqrs"))}
					if mode == "unpipelined" {
						opts = append(opts, cqrs.WithoutPipelining())
					}
					s, err := cqrs.NewRedisStore(c, opts...)
					if err != nil {
						b.Fatal(err)
					}
					versions := make([]int64, g)
					streams := make([]string, g)
					for i := range streams {
						streams[i] = "acc-" + strconv.Itoa(i)
					}
					ev := cqrs.Event{Type: "deposited", Data: []byte(`{"amount":1}`)}
					concurrently(b, g, "appends/s", func(w int) error {
						v, err := s.Append(ctx, streams[w], versions[w], ev)
						versions[w] = v
						return err
					})
				})
			}
		}
	}
}

// Cache hits: our Redis cache's Get (pipelined, and WithoutPipelining)
// against a plain go-redis GET on the same client, 1,000 keys of 100 bytes.
func BenchmarkPipeliningCacheGet(b *testing.B) {
	ctx := context.Background()
	value := []byte(strings.Repeat("v", 100))
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range []string{"patterns", "patterns-unpipelined", "go-redis-GET"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/lib=%s", target, g, lib), func(b *testing.B) {
					c := pipeClient(b, target)
					prefix := benchPrefixFor("cache")
					// A 1s bound (default 100ms), as for the limiter: the
					// plain GET loop has none at all.
					opts := []cache.RedisOption{cache.WithPrefix(prefix), cache.WithTimeout(time.Second)}
					if lib == "patterns-unpipelined" {
						opts = append(opts, cache.WithoutPipelining())
					}
					rc, err := cache.NewRedis[[]byte](c, opts...)
					if err != nil {
						b.Fatal(err)
					}
					keys := make([]string, 1000)
					for i := range keys {
						keys[i] = "k" + strconv.Itoa(i)
						if err := rc.Set(ctx, keys[i], value, time.Minute); err != nil {
							b.Fatal(err)
						}
					}
					var get func(key string) error
					if lib != "go-redis-GET" {
						get = func(k string) error {
							_, ok, err := rc.Get(ctx, k)
							if err == nil && !ok {
								err = fmt.Errorf("miss on %s", k)
							}
							return err
						}
					} else {
						// the key our cache stores it under
						raw := func(k string) string { return prefix + "{}v:" + k }
						if err := c.Get(ctx, raw(keys[0])).Err(); err != nil {
							b.Fatalf("plain GET of %s: %v", raw(keys[0]), err)
						}
						get = func(k string) error { return c.Get(ctx, raw(k)).Err() }
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
