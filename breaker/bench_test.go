package breaker

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

func benchBreaker(b *testing.B, cfg Config) *Breaker {
	br, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return br
}

func BenchmarkExecuteClosed(b *testing.B) {
	ctx := context.Background()
	br := benchBreaker(b, Config{Name: "bench"})
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Execute(ctx, ok)
	}
}

func BenchmarkExecuteClosedParallel(b *testing.B) {
	ctx := context.Background()
	br := benchBreaker(b, Config{Name: "bench"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = br.Execute(ctx, ok)
		}
	})
}

func BenchmarkDoClosed(b *testing.B) {
	ctx := context.Background()
	br := benchBreaker(b, Config{Name: "bench"})
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Do(ctx, br, fn)
	}
}

func BenchmarkExecuteClosedWindow(b *testing.B) {
	ctx := context.Background()
	br := benchBreaker(b, Config{Name: "bench", FailureRateThreshold: 0.5, SlowCallRateThreshold: 0.5, SlowCallDuration: time.Second})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = br.Execute(ctx, ok)
		}
	})
}

func BenchmarkExecuteOpen(b *testing.B) {
	ctx := context.Background()
	br := benchBreaker(b, Config{Name: "bench", FailureThreshold: 1, OpenTimeout: time.Hour})
	_ = br.Execute(ctx, fail)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = br.Execute(ctx, ok)
		}
	})
}

func BenchmarkMetrics(b *testing.B) {
	br := benchBreaker(b, Config{Name: "bench"})
	b.ReportAllocs()
	for b.Loop() {
		_ = br.Metrics()
	}
}

// BenchmarkRedisFleet: 4 goroutines in 2 breakers (each on its own client,
// as two processes would be) sharing one circuit, making 1 ms calls.
// ms/call, the mean time a caller waits per call, should be about 1 ms (a
// bare time.Sleep(1ms) takes a little more): no round trip and no lock
// across the fleet in the closed state. On a real server when
// PATTERNS_REDIS_ADDR is set, else on miniredis.
func BenchmarkRedisFleet(b *testing.B) {
	var clients [2]redis.UniversalClient
	if addr := os.Getenv(redistest.EnvAddr); addr != "" {
		for i := range clients {
			clients[i] = redis.NewClient(&redis.Options{Addr: addr})
		}
	} else {
		tg := redistest.New(b, redistest.Mini)
		clients[0], _ = tg.NewClient()
		clients[1], _ = tg.NewClient()
	}
	prefix := fmt.Sprintf("bench:%d:", time.Now().UnixNano())
	var brs [2]*Breaker
	for i, c := range clients {
		st, err := NewRedisStore(c, WithPrefix(prefix))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close(); _ = c.Close() })
		brs[i] = benchBreaker(b, Config{Name: "dep", Store: st})
	}
	ctx := context.Background()
	call := func(context.Context) error { time.Sleep(time.Millisecond); return nil }
	for _, br := range brs {
		_ = br.Execute(ctx, ok) // first sync
	}
	var waited, calls atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for calls.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := brs[g%2].Execute(ctx, call); err != nil {
					b.Error(err)
					return
				}
				waited.Add(int64(time.Since(start)))
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(waited.Load())/float64(b.N)/1e6, "ms/call")
}
