package otel_test

import (
	"context"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/pubsub"
)

// busKinds are the backends the propagation test runs on.
var busKinds = []struct {
	name string
	make func(t *testing.T) pubsub.Bus
}{
	{"memory", func(t *testing.T) pubsub.Bus {
		b := pubsub.NewMemory(pubsub.WithBackoff(time.Millisecond, time.Millisecond))
		t.Cleanup(func() { _ = b.Close() })
		return b
	}},
	{"redis", func(t *testing.T) pubsub.Bus {
		srv := miniredis.RunT(t)
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		b, err := pubsub.NewRedis(rdb, pubsub.WithReadBlock(10*time.Millisecond), pubsub.WithBackoff(time.Millisecond, time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}},
}

// await returns the next value of ch, or fails after a deadline.
func await[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out")
		panic("unreachable")
	}
}

func TestConsumerSpanIsChildOfProducer(t *testing.T) {
	for _, kind := range busKinds {
		t.Run(kind.name, func(t *testing.T) {
			th := newTracer(t)
			mh := newMeter(t)
			bus, err := potel.NewTracingBus("events", kind.make(t), th.tracer, mh.meter)
			require.NoError(t, err)
			_, err = potel.InstrumentBus(mh.meter, "events", bus)
			require.NoError(t, err)

			got := make(chan trace.SpanContext, 4)
			var calls atomic.Int32
			_, err = bus.Subscribe(bg, "orders.*", func(ctx context.Context, m *pubsub.Message) error {
				got <- trace.SpanContextFromContext(ctx)
				if calls.Add(1) == 1 {
					return errBoom // retried: a second delivery, a second span
				}
				return nil
			}, pubsub.WithGroup("billing"))
			require.NoError(t, err)

			ctx, req := th.tracer.Start(bg, "request")
			require.NoError(t, bus.Publish(ctx, "orders.created", []byte("42")))
			req.End()
			first, second := await(t, got), await(t, got)

			producer := th.span(t, "publish orders.created")
			require.Equal(t, trace.SpanKindProducer, producer.SpanKind())
			require.Equal(t, req.SpanContext().SpanID(), producer.Parent().SpanID())
			require.Eventually(t, func() bool { return len(consumerSpans(th)) == 2 }, 5*time.Second, 5*time.Millisecond)
			for i, c := range consumerSpans(th) {
				require.Equal(t, producer.SpanContext().TraceID(), c.SpanContext().TraceID(), "delivery %d", i+1)
				require.Equal(t, producer.SpanContext().SpanID(), c.Parent().SpanID(), "delivery %d", i+1)
				require.True(t, c.Parent().IsRemote())
			}
			require.Equal(t, consumerSpans(th)[0].SpanContext(), first, "the handler runs in the consumer span")
			require.Equal(t, consumerSpans(th)[1].SpanContext(), second)
			require.Equal(t, codes.Error, consumerSpans(th)[0].Status().Code)

			rm := mh.collect()
			require.EqualValues(t, 1, intValue(t, rm, "patterns.pubsub.published", name("events")))
			require.EqualValues(t, 1, intValue(t, rm, "patterns.pubsub.deliveries", name("events"), outcome("success")))
			require.EqualValues(t, 1, intValue(t, rm, "patterns.pubsub.deliveries", name("events"), outcome("failure")))
			require.EqualValues(t, 1, intValue(t, rm, "patterns.pubsub.retried", name("events")))
			require.EqualValues(t, 0, intValue(t, rm, "patterns.pubsub.recovered", name("events")), "no read was lost")
			require.EqualValues(t, 1, histCount(t, rm, "patterns.pubsub.handler.duration", potel.AttrSubscription.String("orders.*"), outcome("failure")))
			require.EqualValues(t, 1, histCount(t, rm, "patterns.pubsub.handler.duration", potel.AttrSubscription.String("orders.*"), outcome("success")))
		})
	}
}

// consumerSpans returns the ended consumer spans, in the order they ended.
func consumerSpans(th *tracerHarness) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range th.rec.Ended() {
		if s.SpanKind() == trace.SpanKindConsumer {
			out = append(out, s)
		}
	}
	return out
}

func TestTracingBusKeepsCallerMetadata(t *testing.T) {
	th := newTracer(t)
	bus, err := potel.NewTracingBus("events", pubsub.NewMemory(), th.tracer, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bus.Close() })
	got := make(chan map[string]string, 1)
	_, err = bus.Subscribe(bg, "orders.*", func(_ context.Context, m *pubsub.Message) error {
		got <- maps.Clone(m.Metadata)
		return nil
	})
	require.NoError(t, err)
	ctx, span := th.tracer.Start(bg, "request")
	defer span.End()
	meta := map[string]string{"tenant": "eu"}
	require.NoError(t, bus.PublishMessage(ctx, &pubsub.Message{Topic: "orders.created", Payload: []byte("1"), Metadata: meta}))
	m := await(t, got)
	require.Equal(t, "eu", m["tenant"])
	require.NotEmpty(t, m["traceparent"])
	require.Equal(t, map[string]string{"tenant": "eu"}, meta, "the caller's map is not modified")
}

// noMetadataBus is a Bus that cannot carry metadata.
type noMetadataBus struct{ pubsub.Bus }

func TestTracingBusRefusesBusWithoutMetadata(t *testing.T) {
	th := newTracer(t)
	_, err := potel.NewTracingBus("events", noMetadataBus{pubsub.NewMemory()}, th.tracer, nil)
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
	_, err = potel.NewTracingBus("", pubsub.NewMemory(), th.tracer, nil)
	require.ErrorIs(t, err, potel.ErrInvalidConfig)
}
