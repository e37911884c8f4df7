package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// lineEncoder is the stdout exporter's encoder: one line per data point,
// "name{attributes} value", rather than the default JSON document.
type lineEncoder struct{ w io.Writer }

// Encode prints v, the *metricdata.ResourceMetrics of one export.
func (e lineEncoder) Encode(v any) error {
	rm, ok := v.(*metricdata.ResourceMetrics)
	if !ok {
		return fmt.Errorf("unexpected %T", v)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					fmt.Fprintf(e.w, "%s%s %d\n", m.Name, attrs(p.Attributes), p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					fmt.Fprintf(e.w, "%s%s %d\n", m.Name, attrs(p.Attributes), p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					fmt.Fprintf(e.w, "%s%s %g\n", m.Name, attrs(p.Attributes), p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					fmt.Fprintf(e.w, "%s%s count=%d sum=%.4fs\n", m.Name, attrs(p.Attributes), p.Count, p.Sum)
				}
			}
		}
	}
	return nil
}

func attrs(s attribute.Set) string {
	kv := s.ToSlice()
	if len(kv) == 0 {
		return ""
	}
	parts := make([]string, len(kv))
	for i, a := range kv {
		parts[i] = string(a.Key) + "=" + a.Value.String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// spanTree is a span processor that keeps ended spans, to print a trace as
// a tree.
type spanTree struct {
	mu    sync.Mutex
	spans []sdktrace.ReadOnlySpan
}

func newSpanTree() *spanTree { return &spanTree{} }

func (t *spanTree) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (t *spanTree) Shutdown(context.Context) error                  { return nil }
func (t *spanTree) ForceFlush(context.Context) error                { return nil }

// OnEnd keeps s; the demo's few hundred spans are kept whole.
func (t *spanTree) OnEnd(s sdktrace.ReadOnlySpan) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.spans) < 10_000 {
		t.spans = append(t.spans, s)
	}
}

// print writes the spans of trace id, children indented under parents.
func (t *spanTree) print(w io.Writer, id trace.TraceID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	known := map[trace.SpanID]bool{}
	for _, s := range t.spans {
		if s.SpanContext().TraceID() == id {
			known[s.SpanContext().SpanID()] = true
		}
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range t.spans {
		if s.SpanContext().TraceID() != id {
			continue
		}
		if p := s.Parent().SpanID(); known[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	var walk func(s sdktrace.ReadOnlySpan, depth int)
	walk = func(s sdktrace.ReadOnlySpan, depth int) {
		status := ""
		if s.Status().Code == codes.Error {
			status = "  error: " + s.Status().Description
		}
		fmt.Fprintf(w, "%s%s [%s] %s%s\n", strings.Repeat("  ", depth), s.Name(), s.SpanKind(),
			s.EndTime().Sub(s.StartTime()).Round(10*time.Microsecond), status)
		kids := children[s.SpanContext().SpanID()]
		sort.Slice(kids, func(i, j int) bool { return kids[i].StartTime().Before(kids[j].StartTime()) })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	fmt.Fprintf(w, "trace %s\n", id)
	for _, r := range roots {
		walk(r, 1)
	}
}
