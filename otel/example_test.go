package otel_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sysdesign/patterns/breaker"
	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/pubsub"
	"github.com/sysdesign/patterns/ratelimit"
)

// One call per component registers its instruments; the SDK reads them
// when it collects. (A service passes its own MeterProvider's meter, with
// the Prometheus or OTLP exporter of its choice.)
func ExampleInstrumentLimiter() {
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("shop")

	limiter, _ := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerSecond(2))
	reg, err := potel.InstrumentLimiter(meter, "api", limiter)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()

	for range 3 {
		_, _ = limiter.Allow(context.Background(), "user-1")
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "patterns.ratelimit.decisions" {
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				outcome, _ := p.Attributes.Value(potel.AttrOutcome)
				fmt.Println(outcome.AsString(), p.Value)
			}
		}
	}
	// Unordered output:
	// allowed 2
	// denied 1
}

// A breaker's calls become spans of the request that makes them.
func ExampleTraceBreaker() {
	tracer := sdktrace.NewTracerProvider().Tracer("shop")
	b, _ := breaker.New(breaker.Config{Name: "payments"})
	payments, err := potel.TraceBreaker(tracer, b)
	if err != nil {
		panic(err)
	}
	ctx, span := tracer.Start(context.Background(), "POST /checkout")
	defer span.End()
	err = payments.Execute(ctx, func(ctx context.Context) error {
		return nil // call the payment service with ctx: its spans nest under "breaker payments"
	})
	fmt.Println(err)
	// Output: <nil>
}

// A TracingBus carries the publisher's trace to the handler: the
// handler's span is the child of the publisher's.
func ExampleNewTracingBus() {
	tracer := sdktrace.NewTracerProvider().Tracer("shop")
	bus, err := potel.NewTracingBus("events", pubsub.NewMemory(), tracer, nil)
	if err != nil {
		panic(err)
	}
	defer bus.Close()
	done := make(chan struct{})
	_, _ = bus.Subscribe(context.Background(), "orders.*", func(_ context.Context, m *pubsub.Message) error {
		fmt.Println(m.Topic, "traceparent set:", m.Metadata["traceparent"] != "")
		close(done)
		return nil
	})
	ctx, span := tracer.Start(context.Background(), "POST /orders")
	_ = bus.Publish(ctx, "orders.created", []byte("42"))
	span.End()
	<-done
	// Output: orders.created traceparent set: true
}
