package otel

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sysdesign/patterns/pubsub"
)

// Attribute keys of pubsub spans, after OpenTelemetry's messaging
// conventions, and of the handler latency histogram.
const (
	attrMessagingSystem    = attribute.Key("messaging.system")
	attrMessagingOperation = attribute.Key("messaging.operation.type")
	attrDestination        = attribute.Key("messaging.destination.name")
	attrMessageID          = attribute.Key("messaging.message.id")
	attrConsumerGroup      = attribute.Key("messaging.consumer.group.name")
	attrDeliveryCount      = attribute.Key("messaging.message.delivery_count")
	// AttrSubscription is the pattern a handler subscribed with: from the
	// service's code, so bounded, unlike topics, which may hold ids.
	AttrSubscription = attribute.Key("patterns.pubsub.subscription")
)

// TracingBus is a pubsub.Bus that carries the W3C trace context of the
// publishing request in each message's Metadata (keys "traceparent" and
// "tracestate"), and runs each handler call in a consumer span whose parent
// is the publisher's span, on any bus that keeps Metadata (Memory, Redis,
// Broadcast). Publish starts a producer span "publish <topic>" when its
// context holds a recording span; handlers get a span "process <topic>" always
// (a root span for a message published without one). With a meter it
// records the handler latency histogram patterns.pubsub.handler.duration (s,
// patterns.name, patterns.pubsub.subscription, patterns.outcome = "success"
// | "failure"). Stats, Close and Shutdown are the wrapped bus's, and so are
// Depths and DeclareGroup when the wrapped bus has them. Make one with
// NewTracingBus.
type TracingBus struct {
	pubsub.Bus
	pub   pubsub.MessagePublisher
	name  string
	tr    trace.Tracer
	prop  propagation.TextMapPropagator
	hist  metric.Float64Histogram
	attrs []attribute.KeyValue
}

// NewTracingBus wraps b, whose Publish must be able to carry metadata (b
// implements pubsub.MessagePublisher, as Memory, Redis and Broadcast do).
// name is the bus's name in metrics and spans; m may be nil (no latency
// histogram). The context travels in W3C Trace Context format, whatever
// the global propagator is, so that every service reading the bus agrees.
func NewTracingBus(name string, b pubsub.Bus, tr trace.Tracer, m metric.Meter, attrs ...attribute.KeyValue) (*TracingBus, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty component name", ErrInvalidConfig)
	}
	if isNil(b) {
		return nil, errNil("bus")
	}
	if tr == nil {
		return nil, errNil("tracer")
	}
	pub, ok := b.(pubsub.MessagePublisher)
	if !ok {
		return nil, fmt.Errorf("%w: bus %T cannot carry metadata (it is no pubsub.MessagePublisher)", ErrInvalidConfig, b)
	}
	t := &TracingBus{Bus: b, pub: pub, name: name, tr: tr, prop: propagation.TraceContext{}, attrs: baseAttrs(name, attrs)}
	if m != nil {
		h, err := m.Float64Histogram("patterns.pubsub.handler.duration", metric.WithUnit("s"),
			metric.WithDescription("Time a handler call took, by outcome."),
			metric.WithExplicitBucketBoundaries(latencyBuckets...))
		if err != nil {
			return nil, fmt.Errorf("patterns/otel: creating instruments: %w", err)
		}
		t.hist = h
	}
	return t, nil
}

// Publish publishes payload to topic with the trace context of ctx in the
// message's metadata.
func (t *TracingBus) Publish(ctx context.Context, topic string, payload []byte) error {
	return t.PublishMessage(ctx, &pubsub.Message{Topic: topic, Payload: payload})
}

// PublishMessage publishes m with the trace context of ctx added to a copy
// of its metadata (m itself is not modified).
func (t *TracingBus) PublishMessage(ctx context.Context, m *pubsub.Message) error {
	if m == nil {
		return t.pub.PublishMessage(ctx, m) // the bus's own error for nil
	}
	var span trace.Span
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, span = t.tr.Start(ctx, "publish "+m.Topic, trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(t.attrs...),
			trace.WithAttributes(attrMessagingSystem.String("patterns"), attrMessagingOperation.String("send"), attrDestination.String(m.Topic)))
		defer span.End()
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		out := *m
		out.Metadata = make(map[string]string, len(m.Metadata)+2)
		maps.Copy(out.Metadata, m.Metadata)
		t.prop.Inject(ctx, propagation.MapCarrier(out.Metadata))
		m = &out
	}
	err := t.pub.PublishMessage(ctx, m)
	if span != nil {
		spanError(span, err)
	}
	return err
}

// Subscribe subscribes h, wrapped so that each call runs in a consumer span
// that is the child of the publisher's span.
func (t *TracingBus) Subscribe(ctx context.Context, pattern string, h pubsub.Handler, opts ...pubsub.SubscribeOption) (pubsub.Subscription, error) {
	if h == nil {
		return t.Bus.Subscribe(ctx, pattern, h, opts...) // the bus's own error for nil
	}
	group := ""
	if s, err := pubsub.ResolveSubscribeOptions(opts...); err == nil {
		group = s.Group
	}
	return t.Bus.Subscribe(ctx, pattern, t.wrap(pattern, group, h), opts...)
}

func (t *TracingBus) wrap(pattern, group string, h pubsub.Handler) pubsub.Handler {
	spanAttrs := append(t.attrs[:len(t.attrs):len(t.attrs)],
		attrMessagingSystem.String("patterns"), attrMessagingOperation.String("process"), AttrSubscription.String(pattern))
	if group != "" {
		spanAttrs = append(spanAttrs, attrConsumerGroup.String(group))
	}
	var okOpt, failOpt metric.RecordOption
	if t.hist != nil {
		okOpt = with(t.attrs, AttrSubscription.String(pattern), AttrOutcome.String("success"))
		failOpt = with(t.attrs, AttrSubscription.String(pattern), AttrOutcome.String("failure"))
	}
	return func(ctx context.Context, m *pubsub.Message) (err error) {
		ctx = t.prop.Extract(ctx, propagation.MapCarrier(m.Metadata))
		ctx, span := t.tr.Start(ctx, "process "+m.Topic, trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(spanAttrs...),
			trace.WithAttributes(attrDestination.String(m.Topic), attrMessageID.String(m.ID), attrDeliveryCount.Int(m.Attempt)))
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				t.finish(ctx, span, start, fmt.Errorf("%w: %v", pubsub.ErrPanic, r), failOpt, okOpt)
				panic(r) // the bus turns it into a failed delivery
			}
			t.finish(ctx, span, start, err, failOpt, okOpt)
		}()
		return h(ctx, m)
	}
}

func (t *TracingBus) finish(ctx context.Context, span trace.Span, start time.Time, err error, failOpt, okOpt metric.RecordOption) {
	failed := err != nil && !errors.Is(err, pubsub.ErrHandBack)
	if t.hist != nil {
		opt := okOpt
		if failed {
			opt = failOpt
		}
		t.hist.Record(ctx, time.Since(start).Seconds(), opt)
	}
	if failed {
		spanError(span, err)
	}
	span.End()
}

// Depths reads the wrapped bus's depths (see pubsub.DepthReporter); an
// error wrapping errors.ErrUnsupported when that bus cannot tell them.
func (t *TracingBus) Depths(ctx context.Context) ([]pubsub.Depth, error) {
	d, ok := t.Bus.(pubsub.DepthReporter)
	if !ok {
		return nil, fmt.Errorf("patterns/otel: bus %T cannot report depths: %w", t.Bus, errors.ErrUnsupported)
	}
	return d.Depths(ctx)
}

var _ pubsub.DepthReporter = (*TracingBus)(nil)

// DeclareGroup declares a group on the wrapped bus (see
// pubsub.GroupDeclarer); an error wrapping ErrInvalidConfig when that bus
// has no groups to declare.
func (t *TracingBus) DeclareGroup(ctx context.Context, group, pattern string) error {
	d, ok := t.Bus.(pubsub.GroupDeclarer)
	if !ok {
		return fmt.Errorf("%w: bus %T cannot declare groups", ErrInvalidConfig, t.Bus)
	}
	return d.DeclareGroup(ctx, group, pattern)
}
