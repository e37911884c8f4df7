package otel

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/sysdesign/patterns/breaker"
)

// AttrRejected is true on the span of a breaker call refused without running
// (ErrOpen, ErrTooManyCalls).
const AttrRejected = attribute.Key("patterns.breaker.rejected")

// TracedBreaker runs calls through a breaker, each in a span "breaker <name>"
// when the context holds a recording span; without one a call costs a context
// lookup more than Breaker.Execute. Make one with TraceBreaker.
type TracedBreaker struct {
	b        *breaker.Breaker
	tr       trace.Tracer
	spanName string
	start    []trace.SpanStartOption
}

// TraceBreaker returns a TracedBreaker for b that starts its spans with tr.
// attrs are added to each span, after patterns.name = b.Name().
func TraceBreaker(tr trace.Tracer, b *breaker.Breaker, attrs ...attribute.KeyValue) (*TracedBreaker, error) {
	if tr == nil {
		return nil, errNil("tracer")
	}
	if b == nil {
		return nil, errNil("breaker")
	}
	return &TracedBreaker{
		b: b, tr: tr,
		spanName: "breaker " + b.Name(),
		start:    []trace.SpanStartOption{trace.WithAttributes(baseAttrs(b.Name(), attrs)...)},
	}, nil
}

// Breaker returns the breaker calls run through.
func (t *TracedBreaker) Breaker() *breaker.Breaker { return t.b }

// Execute is Breaker.Execute in a span. A refused call's span has
// patterns.breaker.rejected = true and an error status; a call whose fn
// failed records the error. fn gets the span's context, so its own spans are
// the breaker span's children.
func (t *TracedBreaker) Execute(ctx context.Context, fn func(context.Context) error) error {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return t.b.Execute(ctx, fn)
	}
	ctx, span := t.tr.Start(ctx, t.spanName, t.start...)
	defer span.End()
	err := t.b.Execute(ctx, fn)
	t.finish(span, err)
	return err
}

func (t *TracedBreaker) finish(span trace.Span, err error) {
	if errors.Is(err, breaker.ErrOpen) || errors.Is(err, breaker.ErrTooManyCalls) {
		span.SetAttributes(AttrRejected.Bool(true))
	}
	spanError(span, err)
}

// DoTraced is breaker.Do through a TracedBreaker.
func DoTraced[T any](ctx context.Context, t *TracedBreaker, fn func(context.Context) (T, error)) (T, error) {
	if t == nil {
		var zero T
		return zero, fmt.Errorf("%w: nil TracedBreaker", ErrInvalidConfig)
	}
	var v T
	err := t.Execute(ctx, func(ctx context.Context) error {
		var err error
		v, err = fn(ctx)
		return err
	})
	return v, err
}
