package otel_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/sysdesign/patterns/internal/redistest"
	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/pubsub"
)

// depthPoints are the depth gauges of one group or subscription.
type depthPoints struct{ depth, lag, inFlight, consumers int64 }

// readDepth returns the depth gauges whose points carry want, or fails.
func readDepth(t *testing.T, rm metricdata.ResourceMetrics, want ...attribute.KeyValue) depthPoints {
	t.Helper()
	return depthPoints{
		depth:     intValue(t, rm, "patterns.pubsub.queue.depth", want...),
		lag:       intValue(t, rm, "patterns.pubsub.consumer.lag", want...),
		inFlight:  intValue(t, rm, "patterns.pubsub.in_flight", want...),
		consumers: intValue(t, rm, "patterns.pubsub.consumers", want...),
	}
}

// points counts the points of name whose attributes include want.
func points(rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int {
	n := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if matches(p.Attributes, want) {
						n++
					}
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if matches(p.Attributes, want) {
						n++
					}
				}
			}
		}
	}
	return n
}

// waitGauges collects until the group's and the plain subscription's
// gauges are each one of wants, failing with the last reading after 10s.
func waitGauges(t *testing.T, mh *meterHarness, wants ...depthPoints) metricdata.ResourceMetrics {
	t.Helper()
	ok := func(got depthPoints) bool { return slices.Contains(wants, got) }
	group := []attribute.KeyValue{name("orders"), potel.AttrConsumerGroup.String("billing"), potel.AttrSubscription.String("orders.*")}
	plain := []attribute.KeyValue{name("orders"), potel.AttrSubscription.String("orders.#")}
	var rm metricdata.ResourceMetrics
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		rm = mh.collect()
		if points(rm, "patterns.pubsub.queue.depth", group...) == 1 && points(rm, "patterns.pubsub.queue.depth", plain...) == 1 &&
			ok(readDepth(t, rm, group...)) && ok(readDepth(t, rm, plain...)) {
			return rm
		}
	}
	require.Contains(t, wants, readDepth(t, rm, group...), "group billing")
	require.Contains(t, wants, readDepth(t, rm, plain...), "plain subscription")
	return rm
}

// depthBusKinds are the buses the depth gauges are read on, with the
// numbers of messages a blocked subscription may hold: one taken from the
// queue in memory; on Redis, reading one entry at a time, one in the
// handler, one read and queued for the workers and, once the reader has
// read again, one more (pubsub documents that InFlight may include it).
var depthBusKinds = []struct {
	name   string
	held   []int64
	redis  bool
	newBus func(t *testing.T, tg *redistest.Target) pubsub.Bus
}{
	{"memory", []int64{1}, false, func(t *testing.T, _ *redistest.Target) pubsub.Bus {
		b := pubsub.NewMemory()
		t.Cleanup(func() { _ = b.Close() })
		return b
	}},
	{"redis", []int64{2, 3}, true, func(t *testing.T, tg *redistest.Target) pubsub.Bus {
		b, err := pubsub.NewRedis(tg.Client, pubsub.WithPrefix(tg.Prefix), pubsub.WithBatch(1), pubsub.WithReadBlock(10*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}},
}

// The depth gauges after scripted traffic: six messages published to a
// group and a plain subscription whose handlers block, then released.
// Traced or not, on memory and on Redis (miniredis, and a real Redis and
// Cluster when configured).
func TestBusDepthGauges(t *testing.T) {
	for _, kind := range depthBusKinds {
		for _, traced := range []bool{false, true} {
			run := func(t *testing.T, tg *redistest.Target) {
				mh := newMeter(t)
				var bus pubsub.Bus = kind.newBus(t, tg)
				if traced {
					tb, err := potel.NewTracingBus("orders", bus, newTracer(t).tracer, nil)
					require.NoError(t, err)
					bus = tb
				}
				_, err := potel.InstrumentBus(mh.meter, "orders", bus)
				require.NoError(t, err)

				started, release := make(chan string, 16), make(chan struct{})
				blocked := func(ctx context.Context, m *pubsub.Message) error {
					started <- string(m.Payload)
					select {
					case <-release:
						return nil
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				_, err = bus.Subscribe(bg, "orders.*", blocked, pubsub.WithGroup("billing"))
				require.NoError(t, err)
				_, err = bus.Subscribe(bg, "orders.#", blocked)
				require.NoError(t, err)
				for i := range 6 {
					require.NoError(t, bus.Publish(bg, "orders.created", []byte(strconv.Itoa(i))))
				}
				await(t, started)
				await(t, started)
				var wants []depthPoints
				for _, held := range kind.held {
					wants = append(wants, depthPoints{depth: 6, lag: 6 - held, inFlight: held, consumers: 1})
				}
				rm := waitGauges(t, mh, wants...)
				noAttrValue(t, rm, "orders.created")
				require.EqualValues(t, 0, intValue(t, rm, "patterns.pubsub.depth.errors", name("orders")))
				close(release)
				waitGauges(t, mh, depthPoints{consumers: 1})
			}
			label := kind.name + map[bool]string{false: "", true: "/traced"}[traced]
			t.Run(label, func(t *testing.T) {
				if kind.redis {
					redistest.Each(t, run)
				} else {
					run(t, nil)
				}
			})
		}
	}
}

// errorRecorder is an OpenTelemetry error handler that keeps what it is
// given.
type errorRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errorRecorder) Handle(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
}

func (r *errorRecorder) all() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// A Redis that stops answering costs a collection the bus's timeout: the
// depth points are skipped, the failure counted and handed to the error
// handler, the other instruments still read, and the gauges come back
// with Redis.
func TestBusDepthGaugesWhenRedisFails(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		rec := &errorRecorder{}
		prev := otelglobal.GetErrorHandler()
		otelglobal.SetErrorHandler(rec)
		t.Cleanup(func() { otelglobal.SetErrorHandler(prev) })

		c, faults := tg.NewClient()
		bus, err := pubsub.NewRedis(c, pubsub.WithPrefix(tg.Prefix), pubsub.WithReadBlock(10*time.Millisecond),
			pubsub.WithTimeout(100*time.Millisecond), pubsub.WithDrainTimeout(100*time.Millisecond))
		require.NoError(t, err)
		t.Cleanup(func() { _ = bus.Close() })
		mh := newMeter(t)
		_, err = potel.InstrumentBus(mh.meter, "orders", bus)
		require.NoError(t, err)
		done := make(chan struct{}, 1)
		_, err = bus.Subscribe(bg, "orders.*", func(context.Context, *pubsub.Message) error {
			done <- struct{}{}
			return nil
		}, pubsub.WithGroup("billing"))
		require.NoError(t, err)
		// Published by a bus with the default timeout: 100ms is short for
		// a loaded machine. miniredis makes a consumer with its first entry.
		pub, err := pubsub.NewRedis(tg.Client, pubsub.WithPrefix(tg.Prefix))
		require.NoError(t, err)
		t.Cleanup(func() { _ = pub.Close() })
		require.NoError(t, pub.Publish(bg, "orders.created", nil))
		await(t, done)
		group := []attribute.KeyValue{name("orders"), potel.AttrConsumerGroup.String("billing")}
		settled := func() bool {
			rm := mh.collect()
			return points(rm, "patterns.pubsub.queue.depth", group...) == 1 &&
				intValue(t, rm, "patterns.pubsub.queue.depth", group...) == 0
		}
		// Acknowledged (acks are batched: one cut off by the fault would
		// stay pending for the visibility timeout).
		waitUntil(t, settled, "the message is acknowledged")

		// A read may time out before the fault too, on a loaded machine:
		// count from here.
		failedBefore := intValue(t, mh.collect(), "patterns.pubsub.depth.errors", name("orders"))
		handledBefore := len(rec.all())
		faults.Hang()
		start := time.Now()
		rm := mh.collect()
		elapsed := time.Since(start)
		faults.Heal()
		require.Less(t, elapsed, time.Second, "bounded by the bus's timeout")
		require.Zero(t, points(rm, "patterns.pubsub.queue.depth"), "no depth points from a failed read")
		errs := rec.all()[handledBefore:]
		require.Equal(t, failedBefore+1, intValue(t, rm, "patterns.pubsub.depth.errors", name("orders")), "errors: %v", errs)
		require.EqualValues(t, 1, intValue(t, rm, "patterns.pubsub.deliveries", name("orders"), outcome("success")), "the other instruments still read")
		require.Len(t, errs, 1)
		require.ErrorIs(t, errs[0], context.DeadlineExceeded)
		require.Contains(t, errs[0].Error(), `bus "orders"`)

		waitUntil(t, settled, "the gauges are back with Redis")
	})
}

// waitUntil polls cond, in the test's goroutine (a collection must not
// outlive it), until it holds, failing after 10s.
func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
	}
}

// A bus that cannot tell its depths gets no depth instruments; a
// TracingBus around one says so.
func TestBusWithoutDepths(t *testing.T) {
	mh := newMeter(t)
	inner := pubsub.NewMemory()
	t.Cleanup(func() { _ = inner.Close() })
	bus := noDepthBus{inner}
	_, err := potel.InstrumentBus(mh.meter, "plain", bus)
	require.NoError(t, err)
	tb, err := potel.NewTracingBus("traced", metadataOnly{bus, inner}, newTracer(t).tracer, nil)
	require.NoError(t, err)
	_, err = potel.InstrumentBus(mh.meter, "traced", tb)
	require.NoError(t, err)
	_, err = tb.Depths(bg)
	require.True(t, errors.Is(err, errors.ErrUnsupported), "err = %v", err)
	rm := mh.collect()
	require.False(t, has(rm, "patterns.pubsub.queue.depth"))
	require.False(t, has(rm, "patterns.pubsub.depth.errors"))
	require.EqualValues(t, 0, intValue(t, rm, "patterns.pubsub.published", name("traced")))
}

// noDepthBus is a Bus that is no pubsub.DepthReporter.
type noDepthBus struct{ pubsub.Bus }

// metadataOnly adds PublishMessage to a Bus without Depths, as a TracingBus
// needs.
type metadataOnly struct {
	pubsub.Bus
	pub pubsub.MessagePublisher
}

func (m metadataOnly) PublishMessage(ctx context.Context, msg *pubsub.Message) error {
	return m.pub.PublishMessage(ctx, msg)
}

// Two plain subscriptions of one pattern share their attributes: their
// points are one, the sum of both.
func TestBusDepthGaugesAddUpOnePattern(t *testing.T) {
	mh := newMeter(t)
	bus := pubsub.NewMemory()
	t.Cleanup(func() { _ = bus.Close() })
	_, err := potel.InstrumentBus(mh.meter, "orders", bus)
	require.NoError(t, err)
	started, release := make(chan string, 16), make(chan struct{})
	defer close(release)
	blocked := func(ctx context.Context, m *pubsub.Message) error {
		started <- string(m.Payload)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for range 2 {
		_, err = bus.Subscribe(bg, "orders.#", blocked)
		require.NoError(t, err)
	}
	for i := range 3 {
		require.NoError(t, bus.Publish(bg, "orders.created", []byte(strconv.Itoa(i))))
	}
	await(t, started)
	await(t, started)
	plain := []attribute.KeyValue{name("orders"), potel.AttrSubscription.String("orders.#")}
	want := depthPoints{depth: 6, lag: 4, inFlight: 2, consumers: 2}
	var got depthPoints
	waitUntil(t, func() bool {
		rm := mh.collect()
		if points(rm, "patterns.pubsub.queue.depth", plain...) != 1 {
			return false
		}
		got = readDepth(t, rm, plain...)
		return got == want
	}, "the two subscriptions' depths add up")
}
