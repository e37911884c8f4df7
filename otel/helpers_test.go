package otel_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// meterHarness is a MeterProvider read on demand through a ManualReader.
type meterHarness struct {
	t      *testing.T
	reader *sdkmetric.ManualReader
	meter  metric.Meter
}

func newMeter(t *testing.T) *meterHarness {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &meterHarness{t: t, reader: reader, meter: mp.Meter("test")}
}

// collect reads every instrument once.
func (h *meterHarness) collect() metricdata.ResourceMetrics {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(h.t, h.reader.Collect(context.Background(), &rm))
	return rm
}

// find returns the metric named name, or fails.
func find(t *testing.T, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// has reports whether any data point of name is present.
func has(rm metricdata.ResourceMetrics, name string) bool {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					return len(d.DataPoints) > 0
				case metricdata.Gauge[int64]:
					return len(d.DataPoints) > 0
				case metricdata.Gauge[float64]:
					return len(d.DataPoints) > 0
				case metricdata.Histogram[float64]:
					return len(d.DataPoints) > 0
				}
			}
		}
	}
	return false
}

// matches reports whether set holds every attribute of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// intValue returns the value of the int64 sum or gauge point of name whose
// attributes include want; it fails unless exactly one point matches.
func intValue(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m := find(t, rm, name)
	var points []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	default:
		t.Fatalf("%s is a %T, not an int64 sum or gauge", name, m.Data)
	}
	var got []int64
	for _, p := range points {
		if matches(p.Attributes, want) {
			got = append(got, p.Value)
		}
	}
	require.Len(t, got, 1, "points of %s matching %v", name, want)
	return got[0]
}

// histCount returns the count of the histogram point of name whose
// attributes include want.
func histCount(t *testing.T, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	m := find(t, rm, name)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	var n uint64
	var found bool
	for _, p := range h.DataPoints {
		if matches(p.Attributes, want) {
			n += p.Count
			found = true
		}
	}
	require.True(t, found, "no point of %s matching %v", name, want)
	return n
}

// noAttrValue fails if any point of any metric has an attribute value v
// (a key that must never become an attribute).
func noAttrValue(t *testing.T, rm metricdata.ResourceMetrics, v string) {
	t.Helper()
	check := func(name string, s attribute.Set) {
		for _, kv := range s.ToSlice() {
			require.NotEqual(t, v, kv.Value.String(), "metric %s has attribute %s = %q", name, kv.Key, v)
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					check(m.Name, p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					check(m.Name, p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					check(m.Name, p.Attributes)
				}
			}
		}
	}
}

// tracerHarness records every ended span.
type tracerHarness struct {
	rec    *tracetest.SpanRecorder
	tracer trace.Tracer
}

func newTracer(t *testing.T) *tracerHarness {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &tracerHarness{rec: rec, tracer: tp.Tracer("test")}
}

// span returns the one ended span named name, or fails.
func (h *tracerHarness) span(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range h.rec.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	require.Len(t, found, 1, "spans named %q", name)
	return found[0]
}

func spanAttr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}
