package pubsub_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/pubsub"
)

// A durable bus on Redis Streams. The group is declared before any
// consumer runs, so the order published meanwhile waits in Redis for the
// consumer that starts later. (miniredis stands in for Redis here, so
// that the example runs with go test.)
func ExampleNewRedis() {
	srv, err := miniredis.Run()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	bus, err := pubsub.NewRedis(rdb, pubsub.WithNamespace("shop"), pubsub.WithReadBlock(10*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Close()
	if err := bus.DeclareGroup(ctx, "email", "orders.*"); err != nil {
		fmt.Println(err)
		return
	}
	if err := bus.Publish(ctx, "orders.created", []byte("order 42")); err != nil {
		fmt.Println(err)
		return
	}

	done := make(chan struct{})
	_, err = bus.Subscribe(ctx, "orders.*", func(_ context.Context, m *pubsub.Message) error {
		fmt.Printf("email: %s %s (attempt %d)\n", m.Topic, m.Payload, m.Attempt)
		close(done)
		return nil
	}, pubsub.WithGroup("email"))
	if err != nil {
		fmt.Println(err)
		return
	}
	<-done
	// Output: email: orders.created order 42 (attempt 1)
}

// A fire-and-forget fan-out on Redis Pub/Sub, for cache invalidation:
// every process subscribed when the message is published gets it.
func ExampleNewBroadcast() {
	srv, err := miniredis.Run()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()

	bus, err := pubsub.NewBroadcast(rdb, pubsub.WithNamespace("cache"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Close()
	done := make(chan struct{})
	_, err = bus.Subscribe(ctx, "users.*.invalidate", func(_ context.Context, m *pubsub.Message) error {
		fmt.Printf("drop %s from the local cache\n", m.Payload)
		close(done)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := bus.Publish(ctx, "users.42.invalidate", []byte("user:42")); err != nil {
		fmt.Println(err)
		return
	}
	<-done
	// Output: drop user:42 from the local cache
}
