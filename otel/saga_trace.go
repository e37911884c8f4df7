package otel

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sysdesign/patterns/saga"
)

// TraceSteps returns copies of steps whose Action and Compensate each run in
// a span ("saga.step <step>", "saga.compensate <step>") when their context
// holds a recording span: under ExecuteSaga's span, or whatever span the caller
// of Execute or Recover had. Each span carries patterns.name = the saga's
// name, patterns.saga.step, patterns.saga.phase, patterns.saga.id and
// patterns.saga.attempt; a failed try records its error. Pass the result to
// saga.New in place of steps.
func TraceSteps[T any](tr trace.Tracer, steps []saga.Step[T]) ([]saga.Step[T], error) {
	if tr == nil {
		return nil, errNil("tracer")
	}
	out := make([]saga.Step[T], len(steps))
	for i, st := range steps {
		out[i] = st
		if st.Action != nil {
			out[i].Action = traceStep(tr, "saga.step "+st.Name, "action", st.Action)
		}
		if st.Compensate != nil {
			out[i].Compensate = traceStep(tr, "saga.compensate "+st.Name, "compensation", st.Compensate)
		}
	}
	return out, nil
}

func traceStep[T any](tr trace.Tracer, spanName, phase string, fn func(context.Context, *T) error) func(context.Context, *T) error {
	phaseAttr := AttrSagaPhase.String(phase)
	return func(ctx context.Context, data *T) error {
		if !trace.SpanFromContext(ctx).IsRecording() {
			return fn(ctx, data)
		}
		attrs := []attribute.KeyValue{phaseAttr}
		opts := make([]trace.SpanStartOption, 0, 2)
		if info, ok := saga.Info(ctx); ok {
			attrs = append(attrs, AttrName.String(info.Saga), AttrSagaStep.String(info.Step),
				AttrSagaID.String(info.ID), AttrSagaAttempt.Int(info.Attempt))
			if origin := sagaOrigin(info.Metadata); origin.IsValid() && origin.TraceID() != trace.SpanContextFromContext(ctx).TraceID() {
				// Run by another trace (Recover): link to the request that
				// started the saga.
				opts = append(opts, trace.WithLinks(trace.Link{SpanContext: origin}))
			}
		}
		opts = append(opts, trace.WithAttributes(attrs...))
		ctx, span := tr.Start(ctx, spanName, opts...)
		defer span.End()
		err := fn(ctx, data)
		spanError(span, err)
		return err
	}
}

// SagaTraceMetadata is a function for saga.WithMetadata: it returns the W3C
// trace context of ctx (keys "traceparent", "tracestate"; nil when ctx holds
// no valid span), which the saga log then keeps with the execution. The
// step spans of TraceSteps that another trace runs (Recover, in this or
// another process) link to it, so a recovered saga leads back to the request
// that started it:
//
//	s, err := saga.New("checkout", tracedSteps, saga.WithMetadata(potel.SagaTraceMetadata))
func SagaTraceMetadata(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	m := make(map[string]string, 2)
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(m))
	return m
}

// sagaOrigin is the span context SagaTraceMetadata stored, or an invalid one.
func sagaOrigin(meta map[string]string) trace.SpanContext {
	if meta["traceparent"] == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(meta))
	return trace.SpanContextFromContext(ctx)
}

// ExecuteSaga runs s.Execute(ctx, id, data) in a span "saga <name>" (a root
// span if ctx holds none), so that the steps of TraceSteps are its children.
// The span carries patterns.name, patterns.saga.id and, once finished,
// patterns.saga.status; a saga that did not complete has an error status.
func ExecuteSaga[T any](ctx context.Context, tr trace.Tracer, s *saga.Saga[T], id string, data T) (*saga.Result[T], error) {
	if tr == nil || s == nil {
		return nil, fmt.Errorf("%w: ExecuteSaga needs a tracer and a saga", ErrInvalidConfig)
	}
	ctx, span := tr.Start(ctx, "saga "+s.Name(), trace.WithAttributes(AttrName.String(s.Name()), AttrSagaID.String(id)))
	defer span.End()
	res, err := s.Execute(ctx, id, data)
	if res != nil {
		span.SetAttributes(AttrSagaStatus.String(res.Status.String()))
		if err == nil && res.Status != saga.Completed {
			span.SetStatus(codesError, "saga "+res.Status.String())
		}
	}
	spanError(span, err)
	return res, err
}

// RecoverSaga runs s.Recover(ctx) in a span "saga.recover <name>", so that
// the steps and compensations a recovery runs (traced by TraceSteps) are
// its children. The span carries patterns.name and the number of sagas
// finished (patterns.saga.recovered). With saga.WithMetadata(SagaTraceMetadata)
// each step span also links to the request that started its saga.
func RecoverSaga[T any](ctx context.Context, tr trace.Tracer, s *saga.Saga[T]) ([]*saga.Result[T], error) {
	if tr == nil || s == nil {
		return nil, fmt.Errorf("%w: RecoverSaga needs a tracer and a saga", ErrInvalidConfig)
	}
	ctx, span := tr.Start(ctx, "saga.recover "+s.Name(), trace.WithAttributes(AttrName.String(s.Name())))
	defer span.End()
	res, err := s.Recover(ctx)
	span.SetAttributes(attribute.Int("patterns.saga.recovered", len(res)))
	spanError(span, err)
	return res, err
}
