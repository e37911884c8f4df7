package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sysdesign/patterns/pubsub"
)

func Example() {
	bus := pubsub.NewMemory()
	defer bus.Close()
	ctx := context.Background()

	var wg sync.WaitGroup
	wg.Add(2)
	_, _ = bus.Subscribe(ctx, "orders.*", func(ctx context.Context, m *pubsub.Message) error {
		defer wg.Done()
		fmt.Printf("email: %s %s\n", m.Topic, m.Payload)
		return nil
	})
	_ = bus.Publish(ctx, "orders.created", []byte("order 42"))
	_ = bus.Publish(ctx, "users.created", []byte("not for email"))
	_ = bus.Publish(ctx, "orders.paid", []byte("order 42"))
	wg.Wait()
	// Output:
	// email: orders.created order 42
	// email: orders.paid order 42
}

func ExampleWithGroup() {
	bus := pubsub.NewMemory()
	defer bus.Close()
	ctx := context.Background()

	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Add(4 * 2)
	perGroup := map[string]int{}
	handler := func(group string) pubsub.Handler {
		return func(context.Context, *pubsub.Message) error {
			mu.Lock()
			defer mu.Unlock()
			perGroup[group]++
			wg.Done()
			return nil
		}
	}
	// Two workers share the "email" group; "audit" gets every message too.
	_, _ = bus.Subscribe(ctx, "orders.#", handler("email"), pubsub.WithGroup("email"))
	_, _ = bus.Subscribe(ctx, "orders.#", handler("email"), pubsub.WithGroup("email"))
	_, _ = bus.Subscribe(ctx, "#", handler("audit"), pubsub.WithGroup("audit"))
	for range 4 {
		_ = bus.Publish(ctx, "orders.created", nil)
	}
	wg.Wait()
	fmt.Println(perGroup["email"], perGroup["audit"])
	// Output: 4 4
}

func ExampleWithMaxAttempts() {
	bus := pubsub.NewMemory(pubsub.WithBackoff(time.Millisecond, 10*time.Millisecond))
	defer bus.Close()
	ctx := context.Background()

	dead := make(chan *pubsub.Message, 1)
	_, _ = bus.Subscribe(ctx, pubsub.DefaultDeadTopic, func(_ context.Context, m *pubsub.Message) error {
		kept := *m // handlers must not keep m itself
		dead <- &kept
		return nil
	})
	_, _ = bus.Subscribe(ctx, "payments.charge", func(_ context.Context, m *pubsub.Message) error {
		fmt.Println("attempt", m.Attempt)
		return errors.New("card declined")
	}, pubsub.WithMaxAttempts(3))
	_ = bus.Publish(ctx, "payments.charge", []byte("order 42"))

	d := <-dead
	fmt.Println(d.Metadata[pubsub.MetaDeadTopic], d.Metadata[pubsub.MetaDeadReason], d.Metadata[pubsub.MetaDeadAttempts])
	// Output:
	// attempt 1
	// attempt 2
	// attempt 3
	// payments.charge card declined 3
}

func ExampleJSONHandler() {
	type OrderCreated struct {
		ID    string `json:"id"`
		Total int    `json:"total"`
	}
	bus := pubsub.NewMemory()
	defer bus.Close()
	ctx := context.Background()

	done := make(chan struct{})
	_, _ = bus.Subscribe(ctx, "orders.created", pubsub.JSONHandler(func(_ context.Context, o OrderCreated, _ *pubsub.Message) error {
		fmt.Printf("%s: %d\n", o.ID, o.Total)
		close(done)
		return nil
	}))
	_ = pubsub.PublishJSON(ctx, bus, "orders.created", OrderCreated{ID: "o-1", Total: 1999})
	<-done
	// Output: o-1: 1999
}

func ExampleMatch() {
	fmt.Println(pubsub.Match("orders.*", "orders.created"))
	fmt.Println(pubsub.Match("orders.*", "orders.eu.created"))
	fmt.Println(pubsub.Match("orders.#", "orders.eu.created"))
	fmt.Println(pubsub.Match("#.created", "created"))
	// Output:
	// true
	// false
	// true
	// true
}
