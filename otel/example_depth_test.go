package otel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/pubsub"
)

// A bus's queue depth and consumer lag are gauges per group: here the only
// worker of "email" is busy with one message and two more wait.
func ExampleInstrumentBus() {
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("shop")
	ctx := context.Background()

	bus := pubsub.NewMemory() // or pubsub.NewRedis: its groups' lag and pending entries
	defer bus.Close()
	reg, err := potel.InstrumentBus(meter, "events", bus)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	busy, release := make(chan struct{}, 3), make(chan struct{})
	defer close(release)
	_, _ = bus.Subscribe(ctx, "orders.*", func(context.Context, *pubsub.Message) error {
		busy <- struct{}{}
		<-release
		return nil
	}, pubsub.WithGroup("email"))
	for range 3 {
		_ = bus.Publish(ctx, "orders.created", nil)
	}
	<-busy

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch m.Name {
		case "patterns.pubsub.queue.depth", "patterns.pubsub.consumer.lag", "patterns.pubsub.in_flight":
			for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				group, _ := p.Attributes.Value(potel.AttrConsumerGroup)
				fmt.Printf("%s{group=%s} %d\n", m.Name, group.AsString(), p.Value)
			}
		}
	}
	// Output:
	// patterns.pubsub.queue.depth{group=email} 3
	// patterns.pubsub.consumer.lag{group=email} 2
	// patterns.pubsub.in_flight{group=email} 1
}
