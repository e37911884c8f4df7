package otel_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/pubsub"
)

// BenchmarkCollectBus is the cost of one collection of an instrumented bus
// with one group: its Stats counters and its depth gauges. On Redis
// (PATTERNS_REDIS_ADDR) the depth read is one XINFO GROUPS round trip.
func BenchmarkCollectBus(b *testing.B) {
	collectBus := func(b *testing.B, bus pubsub.Bus) {
		b.Helper()
		c, mp := newCollector(b)
		if _, err := potel.InstrumentBus(mp.Meter("bench"), "events", bus); err != nil {
			b.Fatal(err)
		}
		if _, err := bus.Subscribe(context.Background(), "orders.*", func(context.Context, *pubsub.Message) error { return nil },
			pubsub.WithGroup("billing")); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			c.collect(b)
		}
	}
	b.Run("memory", func(b *testing.B) {
		bus := pubsub.NewMemory()
		b.Cleanup(func() { _ = bus.Close() })
		collectBus(b, bus)
	})
	b.Run("redis", func(b *testing.B) {
		addr := os.Getenv("PATTERNS_REDIS_ADDR")
		if addr == "" {
			b.Skip("PATTERNS_REDIS_ADDR is not set (scripts/with-redis.sh sets it)")
		}
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		b.Cleanup(func() { _ = rdb.Close() })
		bus, err := pubsub.NewRedis(rdb, pubsub.WithPrefix("bench-otel-depth:"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_ = bus.Close()
			_ = bus.DeleteGroup(context.Background(), "billing")
		})
		collectBus(b, bus)
	})
}
