package otel

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys set on every data point. Their values come from code (names,
// fixed outcome sets), never from requests.
const (
	// AttrName is the component's name as given to an Instrument… call.
	AttrName = attribute.Key("patterns.name")
	// AttrOutcome splits a count by how it ended (allowed/denied,
	// success/failure, hit/miss, …).
	AttrOutcome = attribute.Key("patterns.outcome")
)

// ErrInvalidConfig is wrapped by the errors of calls given a nil meter,
// component or tracer, or an empty name.
var ErrInvalidConfig = errors.New("patterns/otel: invalid config")

// builder creates a component's instruments, remembering the first error and
// the observables to register one callback for.
type builder struct {
	m     metric.Meter
	err   error
	insts []metric.Observable
}

func newBuilder(m metric.Meter, name string, component any) (*builder, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil meter", ErrInvalidConfig)
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty component name", ErrInvalidConfig)
	}
	if isNil(component) {
		return nil, fmt.Errorf("%w: nil component %q", ErrInvalidConfig, name)
	}
	return &builder{m: m}, nil
}

func (b *builder) counter(name, unit, desc string) metric.Int64ObservableCounter {
	c, err := b.m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(c, err)
	return c
}

func (b *builder) gauge(name, unit, desc string) metric.Int64ObservableGauge {
	g, err := b.m.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(g, err)
	return g
}

func (b *builder) floatGauge(name, unit, desc string) metric.Float64ObservableGauge {
	g, err := b.m.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(g, err)
	return g
}

func (b *builder) upDown(name, unit, desc string) metric.Int64ObservableUpDownCounter {
	c, err := b.m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	b.keep(c, err)
	return c
}

func (b *builder) keep(o metric.Observable, err error) {
	if err != nil {
		b.err = errors.Join(b.err, err)
		return
	}
	b.insts = append(b.insts, o)
}

// register registers cb for every instrument made; an instrument that could
// not be made fails the whole call, so a registration is all or nothing.
func (b *builder) register(cb metric.Callback) (metric.Registration, error) {
	if b.err != nil {
		return nil, fmt.Errorf("patterns/otel: creating instruments: %w", b.err)
	}
	return b.m.RegisterCallback(cb, b.insts...)
}

// attrSet is the component's attributes, with one more attribute variant per
// split count precomputed, so a collection allocates nothing per point.
func baseAttrs(name string, extra []attribute.KeyValue) []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, len(extra)+1)
	kv = append(kv, AttrName.String(name))
	return append(kv, extra...)
}

// with returns base plus kv as an observe option, built once at registration.
func with(base []attribute.KeyValue, kv ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, len(base)+len(kv))
	all = append(append(all, base...), kv...)
	return metric.WithAttributeSet(attribute.NewSet(all...))
}

// u64 converts a counter for an Int64 instrument; counters never reach 2^63
// in practice, and saturating keeps a wrapped one monotonic.
func u64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}
