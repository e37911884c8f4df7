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
// (PATTERNS_REDIS_ADDR; make bench starts one), on a client that applies
// ctx deadlines itself and on go-redis's default one, with the limiter's
// own bound, without it (WithoutTimeout) and without it but with a
// caller's deadline (WithoutTimeout's intended use).
func BenchmarkRedisAllow(b *testing.B) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through make bench, which starts a redis-server")
	}
	withDeadline, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, client := range []struct {
		name     string
		deadline bool
	}{{"ctxtimeout", true}, {"default", false}} {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: client.deadline})
		defer c.Close()
		for _, bound := range []struct {
			name string
			opt  Option
			ctx  context.Context
		}{
			{"100ms", WithTimeout(100 * time.Millisecond), context.Background()},
			{"none", WithoutTimeout(), context.Background()},
			{"caller", WithoutTimeout(), withDeadline},
		} {
			for _, alg := range allAlgorithms {
				b.Run("client="+client.name+"/timeout="+bound.name+"/alg="+alg.String(), func(b *testing.B) {
					lim, err := NewRedis(c, alg, Limit{Rate: 1_000_000_000, Period: time.Second}, bound.opt,
						WithPrefix(fmt.Sprintf("bench:%d:", time.Now().UnixNano())))
					if err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if _, err := lim.Allow(bound.ctx, "hot"); err != nil {
								b.Error(err)
								return
							}
						}
					})
					reportDecisions(b)
				})
			}
		}
	}
}
