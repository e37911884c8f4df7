package otel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sysdesign/patterns/breaker"
)

// AttrBreakerState is a circuit's state: "closed", "half-open" or "open".
const AttrBreakerState = attribute.Key("patterns.breaker.state")

// InstrumentBreaker registers instruments that read b.Metrics at each
// collection:
//
//   - patterns.breaker.state {state}, gauge: 1 for the current state and 0
//     for the two others, one point per patterns.breaker.state, so a
//     dashboard can sum "open" over a fleet;
//   - patterns.breaker.calls {call}, counter, patterns.outcome = "success" |
//     "failure" | "ignored" (context.Canceled): calls that ran fn;
//   - patterns.breaker.slow_calls {call}, counter;
//   - patterns.breaker.rejections {call}, counter: calls refused with ErrOpen
//     or ErrTooManyCalls;
//   - patterns.breaker.transitions {transition}, counter: state changes;
//   - patterns.breaker.failure_rate and .slow_call_rate (1), gauges: the
//     sliding window's rates (0 without a window);
//   - patterns.breaker.store.errors {error}, counter, and
//     patterns.breaker.store.detached {state}, gauge 0 or 1: the shared
//     store's health.
//
// Every point carries patterns.name = b.Name() and attrs.
func InstrumentBreaker(m metric.Meter, b *breaker.Breaker, attrs ...attribute.KeyValue) (metric.Registration, error) {
	if b == nil {
		return nil, errNil("breaker")
	}
	name := b.Name()
	if name == "" {
		name = "breaker"
	}
	bl, err := newBuilder(m, name, b)
	if err != nil {
		return nil, err
	}
	base := baseAttrs(name, attrs)
	state := bl.gauge("patterns.breaker.state", "{state}", "1 for the circuit's current state, 0 for the others.")
	calls := bl.counter("patterns.breaker.calls", "{call}", "Calls that ran through the breaker, by outcome.")
	slow := bl.counter("patterns.breaker.slow_calls", "{call}", "Calls slower than the breaker's SlowCallDuration.")
	rejections := bl.counter("patterns.breaker.rejections", "{call}", "Calls refused without running (circuit open, or half-open quota taken).")
	transitions := bl.counter("patterns.breaker.transitions", "{transition}", "State changes of the circuit.")
	failureRate := bl.floatGauge("patterns.breaker.failure_rate", "1", "Share of failures in the sliding window.")
	slowRate := bl.floatGauge("patterns.breaker.slow_call_rate", "1", "Share of slow calls in the sliding window.")
	storeErrs := bl.counter("patterns.breaker.store.errors", "{error}", "Failed operations on the shared store.")
	detached := bl.gauge("patterns.breaker.store.detached", "{state}", "1 while the breaker runs on local state because its store does not answer.")
	states := [...]breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open}
	var stateOpts [len(states)]metric.MeasurementOption
	for i, s := range states {
		stateOpts[i] = with(base, AttrBreakerState.String(s.String()))
	}
	success, failure, ignored := with(base, AttrOutcome.String("success")), with(base, AttrOutcome.String("failure")), with(base, AttrOutcome.String("ignored"))
	plain := with(base)
	return bl.register(func(_ context.Context, o metric.Observer) error {
		mt := b.Metrics()
		for i, s := range states {
			o.ObserveInt64(state, boolInt(mt.State == s), stateOpts[i])
		}
		o.ObserveInt64(calls, u64(mt.Successes), success)
		o.ObserveInt64(calls, u64(mt.Failures), failure)
		o.ObserveInt64(calls, u64(mt.Ignored), ignored)
		o.ObserveInt64(slow, u64(mt.SlowCalls), plain)
		o.ObserveInt64(rejections, u64(mt.Rejections), plain)
		o.ObserveInt64(transitions, u64(mt.Transitions), plain)
		o.ObserveFloat64(failureRate, mt.FailureRate, plain)
		o.ObserveFloat64(slowRate, mt.SlowCallRate, plain)
		o.ObserveInt64(storeErrs, u64(mt.StoreErrors), plain)
		o.ObserveInt64(detached, boolInt(mt.Detached), plain)
		return nil
	})
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
