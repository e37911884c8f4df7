package otel

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sysdesign/patterns/saga"
)

// Attribute keys of saga data points and spans.
const (
	// AttrSagaStatus is how a saga ended: "completed", "compensated", "failed".
	AttrSagaStatus = attribute.Key("patterns.saga.status")
	// AttrSagaStep is a step's name (from the saga's definition, so bounded).
	AttrSagaStep = attribute.Key("patterns.saga.step")
	// AttrSagaPhase is "action" or "compensation".
	AttrSagaPhase = attribute.Key("patterns.saga.phase")
	// AttrSagaID is a saga execution's id: on spans only, never on metrics.
	AttrSagaID = attribute.Key("patterns.saga.id")
	// AttrSagaAttempt is the try of a step's Action or Compensate, from 1:
	// on spans only.
	AttrSagaAttempt = attribute.Key("patterns.saga.attempt")
)

// SagaStatsReporter is implemented by *saga.Saga[T] of every T.
type SagaStatsReporter interface {
	Stats() saga.Stats
}

// InstrumentSaga registers instruments that read s.Stats at each collection:
//
//   - patterns.saga.started {saga}, counter: executions begun;
//   - patterns.saga.finished {saga}, counter, patterns.saga.status =
//     "completed" | "compensated" | "failed" (a failed saga needs an
//     operator);
//   - patterns.saga.recovered {saga}, counter: of those finished, the ones
//     taken over from a process that stopped;
//   - patterns.saga.retries {try}, counter: failed tries of an Action or a
//     Compensate tried again;
//   - patterns.saga.replayed {saga}, counter: Execute calls answered from the
//     log;
//   - patterns.saga.stopped {saga}, counter: runs that stopped unfinished
//     (the log failed, or another process took over).
//
// Step latency is not in Stats: pass SagaObserver's function to
// saga.WithObserver. Every point carries patterns.name = name and attrs;
// never a saga id.
func InstrumentSaga(m metric.Meter, name string, s SagaStatsReporter, attrs ...attribute.KeyValue) (metric.Registration, error) {
	b, err := newBuilder(m, name, s)
	if err != nil {
		return nil, err
	}
	base := baseAttrs(name, attrs)
	started := b.counter("patterns.saga.started", "{saga}", "Saga executions begun.")
	finished := b.counter("patterns.saga.finished", "{saga}", "Sagas finished, by status.")
	recovered := b.counter("patterns.saga.recovered", "{saga}", "Finished sagas taken over from a process that stopped.")
	retries := b.counter("patterns.saga.retries", "{try}", "Failed tries of a step tried again after a backoff.")
	replayed := b.counter("patterns.saga.replayed", "{saga}", "Executions of a finished id answered from the log.")
	stopped := b.counter("patterns.saga.stopped", "{saga}", "Runs that stopped unfinished (log failure or takeover).")
	completed := with(base, AttrSagaStatus.String(saga.Completed.String()))
	compensated := with(base, AttrSagaStatus.String(saga.Compensated.String()))
	failed := with(base, AttrSagaStatus.String(saga.Failed.String()))
	plain := with(base)
	return b.register(func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		o.ObserveInt64(started, u64(st.Started), plain)
		o.ObserveInt64(finished, u64(st.Completed), completed)
		o.ObserveInt64(finished, u64(st.Compensated), compensated)
		o.ObserveInt64(finished, u64(st.Failed), failed)
		o.ObserveInt64(recovered, u64(st.Recovered), plain)
		o.ObserveInt64(retries, u64(st.Retries), plain)
		o.ObserveInt64(replayed, u64(st.Replayed), plain)
		o.ObserveInt64(stopped, u64(st.Stopped), plain)
		return nil
	})
}

// SagaObserver returns an observer for saga.WithObserver that records each
// finished step and compensation in the histogram
// patterns.saga.step.duration (s): the time from its first try's start to
// its last try's end, backoffs included, with patterns.name = name,
// patterns.saga.step, patterns.saga.phase ("action" | "compensation") and
// patterns.outcome ("success" | "failure"), and attrs. Combine it with an
// observer of your own by calling both.
func SagaObserver(m metric.Meter, name string, attrs ...attribute.KeyValue) (func(saga.Event), error) {
	if m == nil {
		return nil, errNil("meter")
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty component name", ErrInvalidConfig)
	}
	hist, err := m.Float64Histogram("patterns.saga.step.duration", metric.WithUnit("s"),
		metric.WithDescription("Time a saga step or compensation took, retries included."),
		metric.WithExplicitBucketBoundaries(latencyBuckets...))
	if err != nil {
		return nil, fmt.Errorf("patterns/otel: creating instruments: %w", err)
	}
	base := baseAttrs(name, attrs)
	return func(e saga.Event) {
		var phase, outcome string
		switch e.Kind {
		case saga.StepDone:
			phase, outcome = "action", "success"
		case saga.StepFailed:
			phase, outcome = "action", "failure"
		case saga.CompensationDone:
			phase, outcome = "compensation", "success"
		case saga.CompensationFailed:
			phase, outcome = "compensation", "failure"
		default:
			return
		}
		// Step names come from the saga's definition, so the set is
		// bounded; the attribute set is built per event, which costs an
		// allocation per step, next to a log write per step.
		hist.Record(context.Background(), e.Duration.Seconds(), with(base,
			AttrSagaStep.String(e.StepName), AttrSagaPhase.String(phase), AttrOutcome.String(outcome)))
	}, nil
}
