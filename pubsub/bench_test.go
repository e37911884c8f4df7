package pubsub

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

	"github.com/redis/go-redis/v9"
)

// BenchmarkMemoryPublishDeliver: one publisher, subs subscriptions of
// "bench.*"; an op is one Publish, timed until every subscription has
// handled every message. msgs/s counts published messages fully
// delivered.
func BenchmarkMemoryPublishDeliver(b *testing.B) {
	for _, subs := range []int{1, 10} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			bus := NewMemory(WithQueueSize(4096))
			defer bus.Close()
			ctx := context.Background()
			var handled atomic.Int64
			want := int64(b.N) * int64(subs)
			done := make(chan struct{})
			for range subs {
				mustSub(b, bus, "bench.*", func(context.Context, *Message) error {
					if handled.Add(1) == want {
						close(done)
					}
					return nil
				})
			}
			payload := []byte("payload")
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if err := bus.Publish(ctx, "bench.created", payload); err != nil {
					b.Fatal(err)
				}
			}
			<-done
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkMemoryParallelPublish: publishers on every core, one
// subscription with 2 workers.
func BenchmarkMemoryParallelPublish(b *testing.B) {
	bus := NewMemory(WithQueueSize(4096))
	defer bus.Close()
	var handled atomic.Int64
	mustSub(b, bus, "bench.#", func(context.Context, *Message) error { handled.Add(1); return nil }, WithWorkers(2))
	payload := []byte("payload")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			_ = bus.Publish(ctx, "bench.created", payload)
		}
	})
	for handled.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkMatch: trie match cost with 10 and 10 000 subscriptions (one
// literal pattern each, plus a few wildcards that match).
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("subs=%d", n), func(b *testing.B) {
			var r router[int]
			bindings := map[string][]int{}
			for i := range n {
				p := "svc" + strconv.Itoa(i%100) + ".entity" + strconv.Itoa(i) + ".created"
				bindings[p] = append(bindings[p], i)
			}
			bindings["svc7.*.created"] = []int{-1}
			bindings["#.created"] = []int{-2}
			bindings["svc7.#"] = []int{-3}
			r.replace(bindings)
			buf := make([]int, 0, 16)
			topic := "svc7.entity7.created"
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				buf = r.match(topic, buf[:0])
			}
			if len(buf) != 4 {
				b.Fatalf("matched %v", buf)
			}
		})
	}
}

// BenchmarkMatchDeepHash: the worst case the review found, a pattern with
// five "#"s against an 81-segment topic it does not match (790ms per match
// with the old backtracking walk).
func BenchmarkMatchDeepHash(b *testing.B) {
	var r router[int]
	r.add("#.a.#.a.#.a.#.a.#.b", 1)
	topic := strings.Repeat("a.", 80) + "c"
	buf := make([]int, 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		buf = r.match(topic, buf[:0])
	}
	if len(buf) != 0 {
		b.Fatalf("matched %v", buf)
	}
}

// BenchmarkRedisPublishConsume: end to end on the real server of
// PATTERNS_REDIS_ADDR: pubs publishers, one group of 4 workers; msgs/s
// counts messages published and consumed.
func BenchmarkRedisPublishConsume(b *testing.B) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR is not set")
	}
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32})
	defer client.Close()
	bus, err := NewRedis(client, WithNamespace("bench-"+randHex(4)), WithReadBlock(50*time.Millisecond), WithBatch(128))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = bus.DeleteGroup(context.Background(), "bench"); _ = bus.Close() }()
	ctx := context.Background()
	var handled atomic.Int64
	want := int64(b.N)
	done := make(chan struct{})
	mustSub(b, bus, "bench.*", func(context.Context, *Message) error {
		if handled.Add(1) == want {
			close(done)
		}
		return nil
	}, WithGroup("bench"), WithWorkers(4))
	const pubs = 8
	payload := []byte("payload")
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += pubs {
				if err := bus.Publish(ctx, "bench.created", payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	pubDur := time.Since(start)
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("consumed %d of %d", handled.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/pubDur.Seconds(), "published/s")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
