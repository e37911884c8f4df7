package pubsub_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/pubsub"
)

// Depths tells how far behind each group is: here the only worker of
// "email" is busy with one message and two more wait.
func ExampleMemory_Depths() {
	bus := pubsub.NewMemory(pubsub.WithDrainTimeout(time.Second))
	defer bus.Close()
	ctx := context.Background()

	busy, release := make(chan struct{}, 3), make(chan struct{})
	_, _ = bus.Subscribe(ctx, "orders.*", func(context.Context, *pubsub.Message) error {
		busy <- struct{}{}
		<-release
		return nil
	}, pubsub.WithGroup("email"))
	for range 3 {
		_ = bus.Publish(ctx, "orders.created", nil)
	}
	<-busy // the worker holds the first message

	var reporter pubsub.DepthReporter = bus // as is a Redis or Broadcast bus
	depths, _ := reporter.Depths(ctx)
	for _, d := range depths {
		fmt.Printf("%s (%s): %d queued, %d in flight, %d consumer(s)\n", d.Group, d.Pattern, d.Queued, d.InFlight, d.Consumers)
	}
	close(release)
	// Output:
	// email (orders.*): 2 queued, 1 in flight, 1 consumer(s)
}
