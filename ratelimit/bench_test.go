package ratelimit

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func reportDecisions(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

// BenchmarkMemoryAllow: one existing key per algorithm, real clock.
func BenchmarkMemoryAllow(b *testing.B) {
	ctx := context.Background()
	for _, alg := range allAlgorithms {
		b.Run("alg="+alg.String(), func(b *testing.B) {
			lim, err := NewMemory(alg, Limit{Rate: 1_000_000_000, Period: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = lim.Allow(ctx, "hot")
			}
			reportDecisions(b)
		})
	}
}

// BenchmarkMemoryAllowParallel: 10k keys spread over all cores.
func BenchmarkMemoryAllowParallel(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprint("user:", i)
	}
	lim, err := NewMemory(TokenBucket, Limit{Rate: 1_000_000_000, Period: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _ = lim.Allow(ctx, keys[i%len(keys)])
			i += 7
		}
	})
	reportDecisions(b)
}

// BenchmarkRedisAllow: one decision per round trip on a real server
// (PATTERNS_REDIS_ADDR; make bench starts one).
func BenchmarkRedisAllow(b *testing.B) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through make bench, which starts a redis-server")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer c.Close()
	ctx := context.Background()
	for _, alg := range allAlgorithms {
		b.Run("alg="+alg.String(), func(b *testing.B) {
			lim, err := NewRedis(c, alg, Limit{Rate: 1_000_000_000, Period: time.Second}, WithPrefix(fmt.Sprintf("bench:%d:", time.Now().UnixNano())))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := lim.Allow(ctx, "hot"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportDecisions(b)
		})
	}
}
