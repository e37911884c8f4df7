// Package otel exports the metrics and traces of the
// github.com/sysdesign/patterns packages through OpenTelemetry.
//
// It is a module of its own (github.com/sysdesign/patterns/otel), so that
// services that do not want OpenTelemetry never download it, as go-redis
// keeps extra/redisotel apart. It depends on the OpenTelemetry API only
// (go.opentelemetry.io/otel, .../metric, .../trace): the service chooses the
// SDK and the exporters. Its name clashes with go.opentelemetry.io/otel, so
// import it under another name:
//
//	import potel "github.com/sysdesign/patterns/otel"
//
// # Metrics
//
// One call per component registers asynchronous instruments that read the
// component's Stats (Metrics for a breaker) when the SDK collects: nothing
// is added to the component's hot path. Each call returns a
// metric.Registration; Unregister stops the reading (the instruments stay,
// as OpenTelemetry has no way to remove one, and report nothing more).
//
//	reg, err := potel.InstrumentLimiter(meter, "api", limiter)
//	defer reg.Unregister()
//
// Instruments are named patterns.<package>.<what>, with units in UCUM
// ({decision}, {call}, s); every data point carries the component's name in
// patterns.name (plus any attributes the caller adds) and, where a count
// splits, an attribute with a small fixed set of values (patterns.outcome,
// patterns.breaker.state, …). Nothing unbounded ever becomes an attribute
// value: never a rate-limit key, a cache key, a saga id or a message id.
// The names are listed by the Instrument… function of each package.
//
// InstrumentBus also reads a bus's queue depths (pubsub.DepthReporter)
// into gauges: queue depth, consumer lag, messages in flight and consumers
// per group. On Redis that is the one instrument that calls Redis when the
// SDK collects: one XINFO GROUPS per group the bus consumes, bounded by the
// bus's timeout; a failed read skips those points, is counted and goes to
// the OpenTelemetry error handler, and never fails the collection.
//
// Latencies that Stats cannot carry (a cache load, a saga step, a pubsub
// handler) are histograms fed by a wrapper or an observer hook:
// InstrumentLoader, SagaObserver, NewTracingBus.
//
// # Traces
//
// The wrappers start spans only when the context already holds a recording
// span, so an untraced request costs a context lookup: TraceBreaker (a span
// per breaker call), InstrumentLoader (a span per cache load), TraceSteps and
// ExecuteSaga (a span per saga execution, one per step and compensation
// under it), NewTracingBus (the W3C trace context travels in the message
// metadata; the consumer's span is a child of the producer's).
//
// A saga finished by Recover runs in the recovering process's trace
// (RecoverSaga gives it a span); with saga.WithMetadata(SagaTraceMetadata)
// the saga log keeps the starting request's trace context, and each step
// span of the recovery links to that request.
package otel
