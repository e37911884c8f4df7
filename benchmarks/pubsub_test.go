package benchmarks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/sysdesign/patterns/pubsub"
)

// Event buses side by side: ours (github.com/sysdesign/patterns/pubsub)
// against watermill's GoChannel in memory and watermill-redisstream on
// Redis. An op is one published message; msgs/s counts messages handled by
// every subscriber, from the first publish to the last delivery;
// goroutines is how many the bus added while running.

type busLib struct {
	name string
	// setup subscribes subs handlers that call onMsg, and returns a
	// publish function and a teardown.
	setup func(b *testing.B, subs int, onMsg func()) (publish func(payload []byte) error, stop func())
}

func memoryLibs() []busLib {
	return []busLib{
		{"patterns", func(b *testing.B, subs int, onMsg func()) (func([]byte) error, func()) {
			bus := pubsub.NewMemory(pubsub.WithQueueSize(4096))
			ctx := context.Background()
			for range subs {
				if _, err := bus.Subscribe(ctx, "orders.*", func(context.Context, *pubsub.Message) error { onMsg(); return nil }); err != nil {
					b.Fatal(err)
				}
			}
			return func(p []byte) error { return bus.Publish(ctx, "orders.created", p) }, func() { _ = bus.Close() }
		}},
		{"watermill-gochannel", func(b *testing.B, subs int, onMsg func()) (func([]byte) error, func()) {
			gc := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 4096}, watermill.NopLogger{})
			for range subs {
				ch, err := gc.Subscribe(context.Background(), "orders.created")
				if err != nil {
					b.Fatal(err)
				}
				go func() {
					for m := range ch {
						onMsg()
						m.Ack()
					}
				}()
			}
			return func(p []byte) error { return gc.Publish("orders.created", message.NewMessage(watermill.NewUUID(), p)) },
				func() { _ = gc.Close() }
		}},
	}
}

func runBus(b *testing.B, lib busLib, subs, publishers int) {
	var handled atomic.Int64
	want := int64(b.N) * int64(subs)
	done := make(chan struct{})
	base := runtime.NumGoroutine()
	publish, stop := lib.setup(b, subs, func() {
		if handled.Add(1) == want {
			close(done)
		}
	})
	defer stop()
	payload := []byte(`{"order":"o-42","total":1999}`)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < b.N; i += publishers {
				if err := publish(payload); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	goroutines := runtime.NumGoroutine() - base - 0
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("handled %d of %d", handled.Load(), want)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64(goroutines), "goroutines")
}

// BenchmarkPubSubMemory: one publisher, 1 and 10 subscribers of one topic.
func BenchmarkPubSubMemory(b *testing.B) {
	for _, subs := range []int{1, 10} {
		for _, lib := range memoryLibs() {
			b.Run(fmt.Sprintf("subs=%d/%s", subs, lib.name), func(b *testing.B) { runBus(b, lib, subs, 1) })
		}
	}
}

// BenchmarkPubSubRedis: publish-to-delivery on Redis (issue 13), ours and
// watermill-redisstream side by side: g publishing goroutines, one
// consumer group with one subscriber, end to end, on one Redis and on the
// 3-master Cluster, each library on a client of its own built alike
// (ContextTimeoutEnabled, pool of 32). allocs/op counts both ends of a
// message, publish and delivery. Run with scripts/with-redis.sh:
//
//	cd benchmarks && go test -run '^$' -bench 'PubSubRedis' -benchtime 2s -count 3
func BenchmarkPubSubRedis(b *testing.B) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	run := hex.EncodeToString(rnd[:])
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range redisBusLibs(target, run) {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/%s", target, g, lib.name), func(b *testing.B) {
					runBus(b, lib, 1, g)
				})
			}
		}
	}
}

func redisBusLibs(target, run string) []busLib {
	return []busLib{
		{"patterns", func(b *testing.B, _ int, onMsg func()) (func([]byte) error, func()) {
			client := pipeClient(b, target)
			bus, err := pubsub.NewRedis(client, pubsub.WithNamespace("bench-"+run+strconv.Itoa(b.N)),
				pubsub.WithReadBlock(50*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := bus.Subscribe(ctx, "orders.*", func(context.Context, *pubsub.Message) error { onMsg(); return nil },
				pubsub.WithGroup("bench")); err != nil {
				b.Fatal(err)
			}
			return func(p []byte) error { return bus.Publish(ctx, "orders.created", p) }, func() {
				_ = bus.Close()
				_ = bus.DeleteGroup(ctx, "bench")
			}
		}},
		{"watermill-redisstream", func(b *testing.B, _ int, onMsg func()) (func([]byte) error, func()) {
			client := pipeClient(b, target)
			topic := "wm-bench-" + run + strconv.Itoa(b.N)
			pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: client}, watermill.NopLogger{})
			if err != nil {
				b.Fatal(err)
			}
			sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{Client: client, ConsumerGroup: "bench",
				BlockTime: 50 * time.Millisecond}, watermill.NopLogger{})
			if err != nil {
				b.Fatal(err)
			}
			ch, err := sub.Subscribe(context.Background(), topic)
			if err != nil {
				b.Fatal(err)
			}
			go func() {
				for m := range ch {
					onMsg()
					m.Ack()
				}
			}()
			return func(p []byte) error { return pub.Publish(topic, message.NewMessage(watermill.NewUUID(), p)) }, func() {
				_ = sub.Close()
				_ = pub.Close()
				client.Del(context.Background(), topic)
			}
		}},
	}
}
