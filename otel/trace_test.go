package otel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/cache"
	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/saga"
)

func TestBreakerSpans(t *testing.T) {
	h := newTracer(t)
	b, err := breaker.New(breaker.Config{Name: "payments", FailureThreshold: 1, OpenTimeout: time.Hour})
	require.NoError(t, err)
	tb, err := potel.TraceBreaker(h.tracer, b)
	require.NoError(t, err)

	// Without a parent span: no span.
	require.NoError(t, tb.Execute(bg, func(context.Context) error { return nil }))
	require.Empty(t, h.rec.Ended())

	ctx, parent := h.tracer.Start(bg, "request")
	var inner trace.SpanContext
	_, err = potel.DoTraced(ctx, tb, func(ctx context.Context) (int, error) {
		inner = trace.SpanContextFromContext(ctx)
		return 0, errBoom
	})
	require.ErrorIs(t, err, errBoom) // opens the circuit
	call := h.span(t, "breaker payments")
	require.Equal(t, parent.SpanContext().SpanID(), call.Parent().SpanID())
	require.Equal(t, call.SpanContext(), inner, "fn runs in the breaker span's context")
	require.Equal(t, codes.Error, call.Status().Code)

	require.ErrorIs(t, tb.Execute(ctx, func(context.Context) error { return nil }), breaker.ErrOpen)
	parent.End()
	ended := h.rec.Ended()
	rejected := ended[len(ended)-2]
	require.Equal(t, "breaker payments", rejected.Name())
	v, ok := spanAttr(rejected, potel.AttrRejected)
	require.True(t, ok)
	require.True(t, v.AsBool())
}

func TestLoaderSpans(t *testing.T) {
	h := newTracer(t)
	lru, err := cache.NewLRU[string](10)
	require.NoError(t, err)
	var loaderCtx trace.SpanContext
	load, err := potel.InstrumentLoader(nil, h.tracer, "users", func(ctx context.Context, key string) (string, error) {
		loaderCtx = trace.SpanContextFromContext(ctx)
		return "v", nil
	})
	require.NoError(t, err)
	aside, err := cache.NewAside(lru, load)
	require.NoError(t, err)
	t.Cleanup(func() { _ = aside.Close() })

	_, err = aside.Get(bg, "untraced")
	require.NoError(t, err)
	require.Empty(t, h.rec.Ended(), "no span without a parent")

	ctx, parent := h.tracer.Start(bg, "request")
	_, err = aside.Get(ctx, "k")
	require.NoError(t, err)
	_, err = aside.Get(ctx, "k") // a hit: no load, no span
	require.NoError(t, err)
	parent.End()
	span := h.span(t, "cache.load users")
	require.Equal(t, parent.SpanContext().SpanID(), span.Parent().SpanID())
	require.Equal(t, span.SpanContext(), loaderCtx)
	for _, kv := range span.Attributes() {
		require.NotEqual(t, "k", kv.Value.String(), "the key is never recorded")
	}
}

func TestSagaSpans(t *testing.T) {
	h := newTracer(t)
	steps, err := potel.TraceSteps(h.tracer, []saga.Step[order]{
		{Name: "reserve",
			Action:     func(_ context.Context, o *order) error { o.Reserved = true; return nil },
			Compensate: func(_ context.Context, o *order) error { o.Reserved = false; return nil }},
		{Name: "charge", Action: func(context.Context, *order) error { return saga.Permanent(errBoom) }},
	})
	require.NoError(t, err)
	s, err := saga.New("checkout", steps)
	require.NoError(t, err)

	res, err := potel.ExecuteSaga(bg, h.tracer, s, "o-9", order{})
	require.Error(t, err)
	require.Equal(t, saga.Compensated, res.Status)

	root := h.span(t, "saga checkout")
	require.False(t, root.Parent().IsValid(), "a root span without a caller's span")
	require.Equal(t, codes.Error, root.Status().Code)
	status, _ := spanAttr(root, potel.AttrSagaStatus)
	require.Equal(t, "compensated", status.AsString())
	for _, n := range []string{"saga.step reserve", "saga.step charge", "saga.compensate reserve"} {
		sp := h.span(t, n)
		require.Equal(t, root.SpanContext().SpanID(), sp.Parent().SpanID(), n)
		require.Equal(t, root.SpanContext().TraceID(), sp.SpanContext().TraceID(), n)
		id, _ := spanAttr(sp, potel.AttrSagaID)
		require.Equal(t, "o-9", id.AsString())
	}
	require.Equal(t, codes.Error, h.span(t, "saga.step charge").Status().Code)
	phase, _ := spanAttr(h.span(t, "saga.compensate reserve"), potel.AttrSagaPhase)
	require.Equal(t, "compensation", phase.AsString())
}

func TestRecoverSagaSpans(t *testing.T) {
	h := newTracer(t)
	clk := newClock()
	log, err := saga.NewMemoryLog(saga.WithClock(clk.now))
	require.NoError(t, err)
	steps, err := potel.TraceSteps(h.tracer, []saga.Step[order]{
		{Name: "reserve",
			Action:     func(_ context.Context, o *order) error { o.Reserved = true; return nil },
			Compensate: func(_ context.Context, o *order) error { o.Reserved = false; return nil }},
		{Name: "charge", Action: func(context.Context, *order) error { return nil }},
	})
	require.NoError(t, err)
	s, err := saga.New("checkout", steps, saga.WithLog(log), saga.WithClock(clk.now), saga.WithLease(time.Second))
	require.NoError(t, err)

	// A process began the saga in a traced request, logging its trace
	// context as saga.WithMetadata(SagaTraceMetadata) does, and stopped
	// inside its first step.
	reqCtx, req := h.tracer.Start(bg, "POST /checkout")
	req.End()
	data := []byte(`{"Reserved":false,"Charged":false}`)
	_, err = log.Claim(bg, "checkout", "o-5", time.Second, []saga.Entry{
		{Kind: saga.Started, Step: -1, Data: data, At: clk.now(), Metadata: potel.SagaTraceMetadata(reqCtx)},
		{Kind: saga.StepBegun, Step: 0, StepName: "reserve", Data: data, At: clk.now()},
	})
	require.NoError(t, err)
	clk.advance(2 * time.Second)

	res, err := potel.RecoverSaga(bg, h.tracer, s)
	require.NoError(t, err)
	require.Len(t, res, 1)
	rec := h.span(t, "saga.recover checkout")
	n, _ := spanAttr(rec, "patterns.saga.recovered")
	require.EqualValues(t, 1, n.AsInt64())
	var ran int
	for _, sp := range h.rec.Ended() {
		if sp.Name() == "saga.recover checkout" || sp.Name() == "POST /checkout" {
			continue
		}
		ran++
		require.Equal(t, rec.SpanContext().SpanID(), sp.Parent().SpanID(), sp.Name())
		require.Len(t, sp.Links(), 1, "%s links to the request that started the saga", sp.Name())
		require.Equal(t, req.SpanContext().TraceID(), sp.Links()[0].SpanContext.TraceID())
		require.Equal(t, req.SpanContext().SpanID(), sp.Links()[0].SpanContext.SpanID())
	}
	require.NotZero(t, ran, "the recovery ran a step or a compensation in a span")
}

func TestSagaTraceMetadataIsLogged(t *testing.T) {
	h := newTracer(t)
	require.Nil(t, potel.SagaTraceMetadata(bg), "no span, no metadata")
	steps, err := potel.TraceSteps(h.tracer, []saga.Step[order]{
		{Name: "reserve", Action: func(context.Context, *order) error { return nil }},
	})
	require.NoError(t, err)
	s, err := saga.New("checkout", steps, saga.WithMetadata(potel.SagaTraceMetadata))
	require.NoError(t, err)
	_, err = potel.ExecuteSaga(bg, h.tracer, s, "o-1", order{})
	require.NoError(t, err)
	root := h.span(t, "saga checkout")
	rec, err := s.Log().Load(bg, "checkout", "o-1")
	require.NoError(t, err)
	tp := rec.Entries[0].Metadata["traceparent"]
	require.Contains(t, tp, root.SpanContext().TraceID().String())
	require.Contains(t, tp, root.SpanContext().SpanID().String())
	require.Empty(t, h.span(t, "saga.step reserve").Links(), "a step of the saga's own trace needs no link")
}

func TestLoaderSpanEndsOnPanic(t *testing.T) {
	h := newTracer(t)
	lru, err := cache.NewLRU[string](10)
	require.NoError(t, err)
	load, err := potel.InstrumentLoader(nil, h.tracer, "users", func(context.Context, string) (string, error) {
		panic("db driver bug")
	})
	require.NoError(t, err)
	aside, err := cache.NewAside(lru, load)
	require.NoError(t, err)
	t.Cleanup(func() { _ = aside.Close() })
	ctx, parent := h.tracer.Start(bg, "request")
	_, err = aside.Get(ctx, "k")
	parent.End()
	var pe *cache.PanicError
	require.ErrorAs(t, err, &pe)
	span := h.span(t, "cache.load users")
	require.Equal(t, codes.Error, span.Status().Code)
}
