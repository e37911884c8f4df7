package otel_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/cache"
	potel "github.com/sysdesign/patterns/otel"
	"github.com/sysdesign/patterns/ratelimit"
)

// The instrumented benchmarks measure the call path with instruments
// registered: the callbacks run only when the SDK collects (every scrape,
// 15 s or so), whose cost BenchmarkCollect gives per component.

// collector reads a meter provider on demand.
type collector struct {
	reader *sdkmetric.ManualReader
	rm     metricdata.ResourceMetrics
}

func (c *collector) collect(b *testing.B) {
	if err := c.reader.Collect(context.Background(), &c.rm); err != nil {
		b.Fatal(err)
	}
}

func newCollector(b *testing.B) (*collector, *sdkmetric.MeterProvider) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &collector{reader: reader}, mp
}

func BenchmarkLimiterMemory(b *testing.B) {
	newLimiter := func(b *testing.B) *ratelimit.Memory {
		l, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerSecond(1<<30))
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		l := newLimiter(b)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = l.Allow(ctx, "k")
		}
	})
	b.Run("instrumented", func(b *testing.B) {
		l := newLimiter(b)
		c, mp := newCollector(b)
		if _, err := potel.InstrumentLimiter(mp.Meter("bench"), "api", l); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			_, _ = l.Allow(ctx, "k")
		}
		c.collect(b)
	})
}

func BenchmarkBreakerClosed(b *testing.B) {
	newBreaker := func(b *testing.B) *breaker.Breaker {
		br, err := breaker.New(breaker.Config{Name: "dep"})
		if err != nil {
			b.Fatal(err)
		}
		return br
	}
	ok := func(context.Context) error { return nil }
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		br := newBreaker(b)
		b.ReportAllocs()
		for b.Loop() {
			_ = br.Execute(ctx, ok)
		}
	})
	b.Run("instrumented", func(b *testing.B) {
		// Metrics registered (InstrumentBreaker): the calls are Execute's own.
		br := newBreaker(b)
		c, mp := newCollector(b)
		if _, err := potel.InstrumentBreaker(mp.Meter("bench"), br); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = br.Execute(ctx, ok)
		}
		c.collect(b) // the instruments read what the loop did
	})
	b.Run("wrapped-untraced", func(b *testing.B) {
		// Metrics registered and calls through TracedBreaker in a request
		// that is not traced: what every untraced call pays for tracing.
		br := newBreaker(b)
		c, mp := newCollector(b)
		if _, err := potel.InstrumentBreaker(mp.Meter("bench"), br); err != nil {
			b.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider()
		tb, err := potel.TraceBreaker(tp.Tracer("bench"), br)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			_ = tb.Execute(ctx, ok)
		}
		c.collect(b) // the instruments read what the loop did
	})
	b.Run("traced", func(b *testing.B) {
		// A traced request: a span per call (sampled, recorded, dropped).
		br := newBreaker(b)
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		tb, err := potel.TraceBreaker(tp.Tracer("bench"), br)
		if err != nil {
			b.Fatal(err)
		}
		tctx, span := tp.Tracer("bench").Start(ctx, "request")
		defer span.End()
		b.ReportAllocs()
		for b.Loop() {
			_ = tb.Execute(tctx, ok)
		}
	})
}

func BenchmarkCacheHit(b *testing.B) {
	newAside := func(b *testing.B, load cache.Loader[int]) *cache.Aside[int] {
		lru, err := cache.NewLRU[int](1024)
		if err != nil {
			b.Fatal(err)
		}
		a, err := cache.NewAside(lru, load)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Close() })
		return a
	}
	load := func(context.Context, string) (int, error) { return 1, nil }
	ctx := context.Background()
	b.Run("plain", func(b *testing.B) {
		a := newAside(b, load)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = a.Get(ctx, "k")
		}
	})
	b.Run("instrumented", func(b *testing.B) {
		c, mp := newCollector(b)
		il, err := potel.InstrumentLoader(mp.Meter("bench"), sdktrace.NewTracerProvider().Tracer("bench"), "users", cache.Loader[int](load))
		if err != nil {
			b.Fatal(err)
		}
		a := newAside(b, il)
		if _, err := potel.InstrumentCache(mp.Meter("bench"), "users", a); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			_, _ = a.Get(ctx, "k")
		}
		c.collect(b) // the instruments read what the loop did
	})
}

// discard is a span processor that drops every span.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

// BenchmarkCollect is the cost of one collection (a scrape) per component:
// its callback reads Stats and reports every point.
func BenchmarkCollect(b *testing.B) {
	b.Run("limiter", func(b *testing.B) {
		c, mp := newCollector(b)
		l, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerSecond(10))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := potel.InstrumentLimiter(mp.Meter("bench"), "api", l); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			c.collect(b)
		}
	})
	b.Run("breaker", func(b *testing.B) {
		c, mp := newCollector(b)
		br, err := breaker.New(breaker.Config{Name: "dep"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := potel.InstrumentBreaker(mp.Meter("bench"), br); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			c.collect(b)
		}
	})
}
