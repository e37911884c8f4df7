package benchmarks

import (
	"context"
	"fmt"
	"strconv"
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
