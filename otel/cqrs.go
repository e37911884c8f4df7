package otel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sysdesign/patterns/cqrs"
)

// EventStoreStatsReporter is implemented by cqrs.MemoryStore and
// cqrs.RedisStore.
type EventStoreStatsReporter interface {
	Stats() cqrs.StoreStats
}

// InstrumentEventStore registers instruments that read s.Stats at each
// collection:
//
//   - patterns.cqrs.appends {append}, counter, patterns.outcome = "success"
//     | "conflict" (ErrConflict: another writer won) | "error";
//   - patterns.cqrs.appended_events {event}, counter: events in successful
//     appends.
//
// Every point carries patterns.name = name and attrs; never a stream id.
func InstrumentEventStore(m metric.Meter, name string, s EventStoreStatsReporter, attrs ...attribute.KeyValue) (metric.Registration, error) {
	b, err := newBuilder(m, name, s)
	if err != nil {
		return nil, err
	}
	base := baseAttrs(name, attrs)
	appends := b.counter("patterns.cqrs.appends", "{append}", "Appends to the event store, by outcome.")
	events := b.counter("patterns.cqrs.appended_events", "{event}", "Events written by successful appends.")
	ok, conflict, failed := with(base, AttrOutcome.String("success")), with(base, AttrOutcome.String("conflict")), with(base, AttrOutcome.String("error"))
	plain := with(base)
	return b.register(func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		o.ObserveInt64(appends, u64(st.Appends), ok)
		o.ObserveInt64(appends, u64(st.Conflicts), conflict)
		o.ObserveInt64(appends, u64(st.Errors), failed)
		o.ObserveInt64(events, u64(st.Appended), plain)
		return nil
	})
}

// InstrumentRunner registers instruments that read a projection Runner at
// each collection:
//
//   - patterns.cqrs.projection.position {event}, gauge: the checkpoint;
//   - patterns.cqrs.projection.lag {event}, gauge: how many events of the
//     store the projection has not applied (Runner.Lag: one store read per
//     collection; a failed read reports no lag point, rather than a wrong one);
//   - patterns.cqrs.projection.applied {event} and .batches {batch},
//     counters;
//   - patterns.cqrs.projection.failures {failure}, counter: failed reads and
//     applies, each retried;
//   - patterns.cqrs.projection.rebuilds {rebuild}, counter: rebuilds swapped
//     in;
//   - patterns.cqrs.projection.store_behind {event}, counter: times the
//     store was found behind the projection (it lost events).
//
// Every point carries patterns.name = name (the projection's name is a
// good choice) and attrs.
func InstrumentRunner(m metric.Meter, name string, r *cqrs.Runner, attrs ...attribute.KeyValue) (metric.Registration, error) {
	if r == nil {
		return nil, errNil("runner")
	}
	b, err := newBuilder(m, name, r)
	if err != nil {
		return nil, err
	}
	base := baseAttrs(name, attrs)
	position := b.gauge("patterns.cqrs.projection.position", "{event}", "The projection's checkpoint: the position of the last event applied.")
	lag := b.gauge("patterns.cqrs.projection.lag", "{event}", "Events in the store the projection has not applied yet.")
	applied := b.counter("patterns.cqrs.projection.applied", "{event}", "Events applied to the projection.")
	batches := b.counter("patterns.cqrs.projection.batches", "{batch}", "Batches applied to the projection.")
	failures := b.counter("patterns.cqrs.projection.failures", "{failure}", "Failed reads and applies (each retried after a backoff).")
	rebuilds := b.counter("patterns.cqrs.projection.rebuilds", "{rebuild}", "Rebuilds of the projection swapped in.")
	behind := b.counter("patterns.cqrs.projection.store_behind", "{event}", "Times the store was found behind the projection.")
	plain := with(base)
	return b.register(func(ctx context.Context, o metric.Observer) error {
		st := r.Stats()
		o.ObserveInt64(position, r.Position(), plain)
		if l, err := r.Lag(ctx); err == nil {
			o.ObserveInt64(lag, l, plain)
		}
		o.ObserveInt64(applied, u64(st.Applied), plain)
		o.ObserveInt64(batches, u64(st.Batches), plain)
		o.ObserveInt64(failures, u64(st.Failures), plain)
		o.ObserveInt64(rebuilds, u64(st.Rebuilds), plain)
		o.ObserveInt64(behind, u64(st.StoreBehind), plain)
		return nil
	})
}

// RepositoryStatsReporter is implemented by *cqrs.Repository[S] of every S.
type RepositoryStatsReporter interface {
	Stats() cqrs.RepositoryStats
}

// InstrumentRepository registers instruments that read an aggregate
// repository's Stats at each collection:
//
//   - patterns.cqrs.commands {command}, counter: commands that appended;
//   - patterns.cqrs.conflicts {conflict}, counter, patterns.outcome =
//     "retried" | "returned": lost append races decided again, and those
//     that ended in ErrConflict;
//   - patterns.cqrs.snapshot.failures {failure}, counter.
//
// Every point carries patterns.name = name and attrs.
func InstrumentRepository(m metric.Meter, name string, r RepositoryStatsReporter, attrs ...attribute.KeyValue) (metric.Registration, error) {
	b, err := newBuilder(m, name, r)
	if err != nil {
		return nil, err
	}
	base := baseAttrs(name, attrs)
	commands := b.counter("patterns.cqrs.commands", "{command}", "Commands that appended events.")
	conflicts := b.counter("patterns.cqrs.conflicts", "{conflict}", "Lost append races: decided again, or returned as ErrConflict.")
	snapshots := b.counter("patterns.cqrs.snapshot.failures", "{failure}", "Snapshots that could not be loaded, decoded or saved.")
	retried, returned := with(base, AttrOutcome.String("retried")), with(base, AttrOutcome.String("returned"))
	plain := with(base)
	return b.register(func(_ context.Context, o metric.Observer) error {
		st := r.Stats()
		o.ObserveInt64(commands, u64(st.Commands), plain)
		o.ObserveInt64(conflicts, u64(st.ConflictsRetried), retried)
		o.ObserveInt64(conflicts, u64(st.Conflicts), returned)
		o.ObserveInt64(snapshots, u64(st.SnapshotFailures), plain)
		return nil
	})
}
