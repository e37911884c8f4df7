package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/sysdesign/patterns/ratelimit"
)

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

// The same decisions, ours pipelined and redis_rate interleaved in five
// rounds within one benchmark, reporting each one's decisions/s and their
// ratio: on a shared, noisy machine the ratio of two runs made seconds
// apart is what holds still. Issue 13's targets are this ratio: at least
// 3 at 64 goroutines, 0.9 at 1 (and no regression at 16).
//
//	cd benchmarks && ../scripts/with-redis.sh go test -run '^$' -bench 'PipeliningRateLimitRatio' -benchtime 20000x -count 3
func BenchmarkPipeliningRateLimitRatio(b *testing.B) {
	ctx := context.Background()
	limit := ratelimit.Limit{Rate: redisRate, Period: time.Second, Burst: benchBurst}
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("target=%s/goroutines=%d", target, g), func(b *testing.B) {
				c := pipeClient(b, target)
				keys := make([]string, g)
				for i := range keys {
					keys[i] = "k" + strconv.Itoa(i)
				}
				ours, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, limit, ratelimit.WithPrefix(benchPrefixFor("rl")), ratelimit.WithTimeout(time.Second))
				if err != nil {
					b.Fatal(err)
				}
				theirs := redis_rate.NewLimiter(c)
				theirLimit := redis_rate.Limit{Rate: redisRate, Burst: benchBurst, Period: time.Second}
				libs := []func(key string) error{
					func(k string) error { _, err := ours.Allow(ctx, k); return err },
					func(k string) error { _, err := theirs.Allow(ctx, k, theirLimit); return err },
				}
				for _, allow := range libs {
					if err := allow("warm"); err != nil {
						b.Fatal(err)
					}
				}
				const rounds = 5
				per := max(b.N/rounds, 1)
				var took [2]time.Duration
				b.ResetTimer()
				for range rounds {
					for i, allow := range libs {
						took[i] += timedConcurrently(b, g, per, func(w int) error { return allow(keys[w]) })
					}
				}
				oursRate := float64(per*rounds) / took[0].Seconds()
				theirRate := float64(per*rounds) / took[1].Seconds()
				b.ReportMetric(oursRate, "patterns/s")
				b.ReportMetric(theirRate, "redis_rate/s")
				b.ReportMetric(oursRate/theirRate, "ratio")
			})
		}
	}
}

// timedConcurrently makes n calls in all from g goroutines and returns how
// long they took.
func timedConcurrently(b *testing.B, g, n int, call func(w int) error) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := call(w); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
