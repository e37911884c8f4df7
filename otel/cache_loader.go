package otel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/sysdesign/patterns/cache"
)

// InstrumentLoader wraps a cache loader so that each call records its
// latency in the histogram patterns.cache.load.duration (s, patterns.outcome
// = "success" | "error" | "not_found", patterns.name = name, attrs) when m is
// not nil, and runs in a span "cache.load <name>" when tr is not nil and the
// context holds a recording span (the Aside hands its loader the first missing
// caller's context, so the span is that request's child). The cache key is
// not recorded: keys are unbounded and may identify a person.
//
// Pass the result to cache.NewAside in place of load. A nil m or tr turns
// that half off; both nil is an error.
func InstrumentLoader[V any](m metric.Meter, tr trace.Tracer, name string, load cache.Loader[V], attrs ...attribute.KeyValue) (cache.Loader[V], error) {
	if load == nil {
		return nil, errNil("loader")
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty component name", ErrInvalidConfig)
	}
	if m == nil && tr == nil {
		return nil, fmt.Errorf("%w: InstrumentLoader needs a meter or a tracer", ErrInvalidConfig)
	}
	var hist metric.Float64Histogram
	base := baseAttrs(name, attrs)
	var okOpt, errOpt, nfOpt metric.RecordOption
	if m != nil {
		var err error
		hist, err = m.Float64Histogram("patterns.cache.load.duration", metric.WithUnit("s"),
			metric.WithDescription("Time the cache's loader took, by outcome."),
			metric.WithExplicitBucketBoundaries(latencyBuckets...))
		if err != nil {
			return nil, fmt.Errorf("patterns/otel: creating instruments: %w", err)
		}
		okOpt = with(base, AttrOutcome.String("success"))
		errOpt = with(base, AttrOutcome.String("error"))
		nfOpt = with(base, AttrOutcome.String("not_found"))
	}
	spanName := "cache.load " + name
	spanAttrs := trace.WithAttributes(base...)
	return func(ctx context.Context, key string) (V, error) {
		var span trace.Span
		if tr != nil && trace.SpanFromContext(ctx).IsRecording() {
			ctx, span = tr.Start(ctx, spanName, spanAttrs)
			defer func() {
				if r := recover(); r != nil {
					// The Aside turns the panic into a *cache.PanicError
					// for every waiter; the span still ends, as failed.
					span.SetStatus(codesError, fmt.Sprint("loader panicked: ", r))
					span.End()
					panic(r)
				}
			}()
		}
		start := time.Now()
		v, err := load(ctx, key)
		notFound := errors.Is(err, cache.ErrNotFound)
		if hist != nil {
			opt := okOpt
			switch {
			case notFound:
				opt = nfOpt
			case err != nil:
				opt = errOpt
			}
			hist.Record(ctx, time.Since(start).Seconds(), opt)
		}
		if span != nil {
			if notFound {
				span.SetAttributes(AttrOutcome.String("not_found"))
			} else {
				spanError(span, err)
			}
			span.End()
		}
		return v, err
	}, nil
}

// spanError marks span failed with err; nil marks nothing.
func spanError(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codesError, err.Error())
}

// latencyBuckets are the histogram boundaries of every latency this package
// records, in seconds: 100µs to 10s, for calls that go to a database or
// another service.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

const codesError = codes.Error
