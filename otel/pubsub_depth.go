package otel

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	otelglobal "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sysdesign/patterns/pubsub"
)

// AttrConsumerGroup is the group a queue belongs to, after OpenTelemetry's
// messaging conventions: a name the service configured (pubsub.WithGroup),
// so bounded. A plain subscription's points have none.
const AttrConsumerGroup = attrConsumerGroup

// depthsOf returns what reads b's depths, or nil when b cannot tell them: a
// TracingBus answers for the bus it wraps.
func depthsOf(b BusStatsReporter) pubsub.DepthReporter {
	if t, ok := b.(*TracingBus); ok {
		if d, ok := t.Bus.(pubsub.DepthReporter); ok {
			return d
		}
		return nil
	}
	if d, ok := b.(pubsub.DepthReporter); ok {
		return d
	}
	return nil
}

// depthGauges observes a bus's pubsub.Depth values at each collection.
type depthGauges struct {
	name                          string
	dr                            pubsub.DepthReporter
	base                          []attribute.KeyValue
	depth, lag, inFlight, members metric.Int64ObservableGauge
	errs                          metric.Int64ObservableCounter
	plain                         metric.MeasurementOption
	failed                        atomic.Int64

	mu   sync.Mutex
	opts map[depthKey]metric.MeasurementOption // bounded: groups and patterns come from code
}

type depthKey struct{ group, pattern string }

// depthTotals adds up the depths of one key (two plain subscriptions of
// one pattern on one bus share their attributes).
type depthTotals struct {
	queued, inFlight, consumers int64
	unknown                     bool
}

func newDepthGauges(bl *builder, name string, dr pubsub.DepthReporter, base []attribute.KeyValue) *depthGauges {
	return &depthGauges{
		name: name, dr: dr, base: base, plain: with(base), opts: make(map[depthKey]metric.MeasurementOption),
		depth: bl.gauge("patterns.pubsub.queue.depth", "{message}",
			"Messages a group has not finished: queued plus in flight."),
		lag: bl.gauge("patterns.pubsub.consumer.lag", "{message}",
			"Messages no consumer of the group has taken yet (on Redis, the group's lag)."),
		inFlight: bl.gauge("patterns.pubsub.in_flight", "{message}",
			"Messages taken by a consumer of the group and not finished (on Redis, pending)."),
		members: bl.gauge("patterns.pubsub.consumers", "{consumer}",
			"Consumers of the group (on Redis, in every process)."),
		errs: bl.counter("patterns.pubsub.depth.errors", "{error}",
			"Depth reads that failed; their points were skipped."),
	}
}

// observe reads the depths with the collection's ctx (the bus bounds the
// read by its own timeout). A failed read is counted, handed to the
// global OpenTelemetry error handler and skips the depth points; it never
// fails the collection.
func (g *depthGauges) observe(ctx context.Context, o metric.Observer) {
	ds, err := g.dr.Depths(ctx)
	if err != nil {
		g.failed.Add(1)
		otelglobal.Handle(fmt.Errorf("patterns/otel: reading the queue depths of bus %q: %w", g.name, err))
	}
	o.ObserveInt64(g.errs, g.failed.Load(), g.plain)
	if err != nil {
		return
	}
	// Two plain subscriptions of one pattern share their attributes: add
	// them up. Sorted, they are neighbours.
	if !slices.IsSortedFunc(ds, compareDepths) {
		slices.SortFunc(ds, compareDepths)
	}
	for i := 0; i < len(ds); {
		k := depthKey{ds[i].Group, ds[i].Pattern}
		var t depthTotals
		for ; i < len(ds) && ds[i].Group == k.group && ds[i].Pattern == k.pattern; i++ {
			t.queued += ds[i].Queued
			t.inFlight += ds[i].InFlight
			t.consumers += ds[i].Consumers
			t.unknown = t.unknown || ds[i].QueuedUnknown
		}
		opt := g.option(k)
		if !t.unknown {
			o.ObserveInt64(g.depth, t.queued+t.inFlight, opt)
			o.ObserveInt64(g.lag, t.queued, opt)
		}
		o.ObserveInt64(g.inFlight, t.inFlight, opt)
		o.ObserveInt64(g.members, t.consumers, opt)
	}
}

func compareDepths(a, b pubsub.Depth) int {
	if c := strings.Compare(a.Group, b.Group); c != 0 {
		return c
	}
	return strings.Compare(a.Pattern, b.Pattern)
}

// option returns the attributes of k's points, built once per key.
func (g *depthGauges) option(k depthKey) metric.MeasurementOption {
	g.mu.Lock()
	defer g.mu.Unlock()
	if opt, ok := g.opts[k]; ok {
		return opt
	}
	kv := []attribute.KeyValue{AttrSubscription.String(k.pattern)}
	if k.group != "" {
		kv = append(kv, AttrConsumerGroup.String(k.group))
	}
	opt := with(g.base, kv...)
	g.opts[k] = opt
	return opt
}
