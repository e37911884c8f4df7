package otel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sysdesign/patterns/pubsub"
)

// AttrDropReason says why a memory queue lost a message: "oldest"
// (OverflowDropOldest), "newest" (OverflowDropNewest) or "rejected"
// (OverflowError).
const AttrDropReason = attribute.Key("patterns.pubsub.drop_reason")

// BusStatsReporter is implemented by every pubsub.Bus (Memory, Redis,
// Broadcast, and a TracingBus around one).
type BusStatsReporter interface {
	Stats() pubsub.Stats
}

// InstrumentBus registers instruments that read b.Stats at each collection:
//
//   - patterns.pubsub.published {message}, counter;
//   - patterns.pubsub.deliveries {delivery}, counter, patterns.outcome =
//     "success" | "failure": handler calls (panics are failures);
//   - patterns.pubsub.panics {delivery}, counter;
//   - patterns.pubsub.retried {delivery}, counter: deliveries scheduled again;
//   - patterns.pubsub.dead_lettered {message}, counter, and
//     patterns.pubsub.dead_dropped {message}: dead letters whose own
//     handler failed;
//   - patterns.pubsub.dropped {message}, counter, patterns.pubsub.drop_reason
//     = "oldest" | "newest" | "rejected": a full memory queue;
//   - patterns.pubsub.handed_back, .abandoned, .reclaimed {message},
//     counters;
//   - patterns.pubsub.errors {error} and patterns.pubsub.rebinds {group},
//     counters: Redis consumers' failed calls, groups bound again.
//
// When b is a pubsub.DepthReporter (Memory, Redis, Broadcast, or a
// TracingBus around one), it also reads b.Depths at each collection, and
// per group (messaging.consumer.group.name, patterns.pubsub.subscription)
// or plain subscription (patterns.pubsub.subscription) observes the
// gauges:
//
//   - patterns.pubsub.queue.depth {message}: what the group has not
//     finished, queued plus in flight;
//   - patterns.pubsub.consumer.lag {message}: queued, taken by no
//     consumer yet (on Redis the group's lag);
//   - patterns.pubsub.in_flight {message}: taken and not finished (on
//     Redis the group's pending entries);
//   - patterns.pubsub.consumers {consumer}: the group's consumers;
//   - patterns.pubsub.depth.errors {error}, counter: failed reads.
//
// On Redis that read is one XINFO GROUPS per group this bus consumes,
// with the collection's context, bounded by the bus's WithTimeout; a
// failed read (Redis down) is counted, handed to the OpenTelemetry error
// handler (otel.Handle) and skips the depth points, never failing the
// collection. Where Redis cannot count the queued messages
// (pubsub.Depth.QueuedUnknown) the depth and lag points of that group are
// skipped. Every consumer process reports the same depths for a group:
// aggregate them with max, not sum.
//
// Handler latency is not in Stats: NewTracingBus records it. Every point
// carries patterns.name = name and attrs; never a topic (topics may hold
// ids) or a message id.
func InstrumentBus(m metric.Meter, name string, b BusStatsReporter, attrs ...attribute.KeyValue) (metric.Registration, error) {
	bl, err := newBuilder(m, name, b)
	if err != nil {
		return nil, err
	}
	base := baseAttrs(name, attrs)
	published := bl.counter("patterns.pubsub.published", "{message}", "Messages published.")
	deliveries := bl.counter("patterns.pubsub.deliveries", "{delivery}", "Handler calls, by outcome.")
	panics := bl.counter("patterns.pubsub.panics", "{delivery}", "Handler calls that panicked.")
	retried := bl.counter("patterns.pubsub.retried", "{delivery}", "Deliveries scheduled again after a failure.")
	dead := bl.counter("patterns.pubsub.dead_lettered", "{message}", "Messages sent to the dead-letter topic.")
	deadDropped := bl.counter("patterns.pubsub.dead_dropped", "{message}", "Dead letters dropped because their own handler failed.")
	dropped := bl.counter("patterns.pubsub.dropped", "{message}", "Messages a full memory queue discarded or refused, by reason.")
	handedBack := bl.counter("patterns.pubsub.handed_back", "{message}", "Messages a stopping subscription released unfinished.")
	abandoned := bl.counter("patterns.pubsub.abandoned", "{message}", "Memory messages dropped with no group member left to take them.")
	reclaimed := bl.counter("patterns.pubsub.reclaimed", "{message}", "Redis messages taken over from consumers that stopped.")
	recovered := bl.counter("patterns.pubsub.recovered", "{message}", "Redis messages of a consumer's own lost reads, taken back by it.")
	errs := bl.counter("patterns.pubsub.errors", "{error}", "Failed Redis calls of consumers (retried).")
	rebinds := bl.counter("patterns.pubsub.rebinds", "{group}", "Groups found gone from Redis and bound again.")
	ok, failed := with(base, AttrOutcome.String("success")), with(base, AttrOutcome.String("failure"))
	oldest, newest, rejected := with(base, AttrDropReason.String("oldest")), with(base, AttrDropReason.String("newest")), with(base, AttrDropReason.String("rejected"))
	plain := with(base)
	var depths *depthGauges
	if dr := depthsOf(b); dr != nil {
		depths = newDepthGauges(bl, name, dr, base)
	}
	return bl.register(func(ctx context.Context, o metric.Observer) error {
		if depths != nil {
			depths.observe(ctx, o)
		}
		s := b.Stats()
		o.ObserveInt64(published, u64(s.Published), plain)
		o.ObserveInt64(deliveries, u64(s.Delivered), ok)
		o.ObserveInt64(deliveries, u64(s.Failed), failed)
		o.ObserveInt64(panics, u64(s.Panics), plain)
		o.ObserveInt64(retried, u64(s.Retried), plain)
		o.ObserveInt64(dead, u64(s.DeadLettered), plain)
		o.ObserveInt64(deadDropped, u64(s.DeadDropped), plain)
		o.ObserveInt64(dropped, u64(s.DroppedOldest), oldest)
		o.ObserveInt64(dropped, u64(s.DroppedNewest), newest)
		o.ObserveInt64(dropped, u64(s.Rejected), rejected)
		o.ObserveInt64(handedBack, u64(s.HandedBack), plain)
		o.ObserveInt64(abandoned, u64(s.Abandoned), plain)
		o.ObserveInt64(reclaimed, u64(s.Reclaimed), plain)
		o.ObserveInt64(recovered, u64(s.Recovered), plain)
		o.ObserveInt64(errs, u64(s.Errors), plain)
		o.ObserveInt64(rebinds, u64(s.Rebinds), plain)
		return nil
	})
}
