package otel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sysdesign/patterns/ratelimit"
)

// AttrAlgorithm is the rate-limit algorithm ("token-bucket", …), set by
// InstrumentLimiter when the limiter tells it (Memory and Redis do).
const AttrAlgorithm = attribute.Key("patterns.ratelimit.algorithm")

// InstrumentLimiter registers instruments that read l's Stats at each
// collection (l is a Memory, a Redis, or a Limiter that Fallback, FailOpen or
// FailClosed returned):
//
//   - patterns.ratelimit.decisions {decision}, counter, patterns.outcome =
//     "allowed" | "denied" (ErrTooManyKeys refusals are denials);
//   - patterns.ratelimit.errors {error}, counter: calls that failed;
//   - patterns.ratelimit.fallbacks {decision}, counter: a wrapper's answers
//     in its limiter's place;
//   - patterns.ratelimit.keys {key}, up-down counter: keys a Memory limiter
//     tracks now.
//
// Every point carries patterns.name = name, patterns.ratelimit.algorithm
// when l has an Algorithm method, and attrs. The rate-limit key is never an
// attribute.
func InstrumentLimiter(m metric.Meter, name string, l ratelimit.StatsReporter, attrs ...attribute.KeyValue) (metric.Registration, error) {
	b, err := newBuilder(m, name, l)
	if err != nil {
		return nil, err
	}
	if a, ok := l.(interface{ Algorithm() ratelimit.Algorithm }); ok {
		attrs = append(attrs[:len(attrs):len(attrs)], AttrAlgorithm.String(a.Algorithm().String()))
	}
	base := baseAttrs(name, attrs)
	decisions := b.counter("patterns.ratelimit.decisions", "{decision}", "Rate-limit decisions, by outcome.")
	errs := b.counter("patterns.ratelimit.errors", "{error}", "Rate-limit calls that returned an error (Redis failures, bad n, a done context).")
	fallbacks := b.counter("patterns.ratelimit.fallbacks", "{decision}", "Decisions a Fallback, FailOpen or FailClosed wrapper made in its limiter's place.")
	keys := b.upDown("patterns.ratelimit.keys", "{key}", "Keys a memory limiter tracks now.")
	allowed, denied := with(base, AttrOutcome.String("allowed")), with(base, AttrOutcome.String("denied"))
	plain := with(base)
	return b.register(func(_ context.Context, o metric.Observer) error {
		s := l.Stats()
		o.ObserveInt64(decisions, u64(s.Allowed), allowed)
		o.ObserveInt64(decisions, u64(s.Denied), denied)
		o.ObserveInt64(errs, u64(s.Errors), plain)
		o.ObserveInt64(fallbacks, u64(s.Fallbacks), plain)
		o.ObserveInt64(keys, int64(s.Keys), plain)
		return nil
	})
}
