// Package breaker is a circuit breaker: it stops calling a dependency that
// keeps failing, so callers fail fast instead of piling up behind timeouts,
// and the dependency gets room to recover; then it lets a few probe calls
// through to find out whether it has.
//
// Use one per dependency (a host, a database, a downstream service) around
// calls that can fail or hang. Give it a shared store (NewRedisStore) when
// many processes call the same dependency, so they trip and recover as one.
//
// Happy path:
//
//	b, err := breaker.New(breaker.Config{Name: "payments"})
//	if err != nil { return err }
//	err = b.Execute(ctx, func(ctx context.Context) error { return callPayments(ctx) })
//	if errors.Is(err, breaker.ErrOpen) { return serveDegraded() }
//	v, err := breaker.Do(ctx, b, fetchQuote) // the same, for a function with a result
//
// # State machine
//
//   - Closed: calls run. FailureThreshold consecutive failures (default
//     DefaultFailureThreshold) open the circuit; so does a failure rate or
//     slow-call rate reaching its threshold over a sliding window, when
//     one is configured.
//   - Open: calls return an *OpenError (errors.Is ErrOpen) without running
//     fn; its RetryAfter says how long until a probe is allowed.
//   - Half-open: after OpenTimeout (default DefaultOpenTimeout), whether or
//     not a call comes (State and Metrics report it on time, and
//     OnStateChange fires when either of them or a call first sees it),
//     HalfOpenMaxCalls probes (default DefaultHalfOpenMaxCalls) run,
//     concurrently; other calls get ErrTooManyCalls. All probes succeeding
//     closes the circuit, any failing re-opens it for another OpenTimeout.
//     A probe that does not report within OpenTimeout is presumed lost and
//     a new one is let through; a probe that ends with context.Canceled
//     gives its slot back.
//
// Outcomes of calls admitted in an earlier period (a call started while
// closed that ends after the circuit opened) count in the metrics only.
//
// # Failures
//
// By default any non-nil error is a failure except context.Canceled (the
// caller gave up), which counts as neither success nor failure;
// Config.IsFailure changes that, and an error it does not count as a
// failure is a success (the dependency answered). context.DeadlineExceeded
// is a failure: a dependency too slow for its callers is failing them. A
// panic in fn is recorded as a failure and re-raised. fn gets the caller's
// ctx; the breaker adds no timeout of its own.
//
// Beyond consecutive failures, FailureRateThreshold and
// SlowCallRateThreshold (with SlowCallDuration) judge a sliding window,
// count-based (WindowSize: the last N calls, default DefaultWindowSize) or
// time-based (WindowDuration), once it holds MinimumCalls (default
// DefaultMinimumCalls). Rates catch a
// dependency failing one call in two, which never makes five in a row;
// slow calls catch one that degrades before it errs.
//
// # Observing
//
// Metrics returns counters (calls, successes, failures, slow calls,
// rejections…), the current consecutive failures and window rates, and the
// transitions; it is cheap enough to export on every scrape.
// Config.Observer is told of state changes, refused calls, and a shared
// store's detaching and re-joining (Event); Config.OnStateChange of state
// changes alone, in the same order; both outside the breaker's lock.
// Config.Logger logs what an operator must see through log/slog.
//
// # HTTP
//
// RoundTripper wraps an http.RoundTripper (the client side), counting
// transport errors and 5xx responses as failures. Middleware wraps an
// http.Handler (the server side), shedding load with 503 Service
// Unavailable and Retry-After while the circuit refuses; WriteRefusal
// answers so for any refused call.
//
// # Cost
//
// A closed-state call with the defaults costs two atomic loads and one
// atomic add around fn, no allocation and no clock read; a refused call one
// clock read and no allocation (the *OpenError is made once per open
// period). A sliding window adds a short mutex, and a time-based window or
// SlowCallDuration a monotonic clock read per call.
//
// # Trade-offs
//
// Consecutive failures react fast and need no clock but miss intermittent
// failure; rates need MinimumCalls to mean anything and a window to
// remember. A single probe (the default) is gentle on a recovering
// dependency but closes on one lucky success; more probes are surer and
// heavier. With a RedisStore each breaker still judges its thresholds from
// its own calls (a process that sees failures trips the fleet; the fleet
// does not pool its counts), the fleet shares the state, the open period
// and the probe quota, and the closed state costs no round trip: the price
// is that the fleet learns of a trip by push, about one network hop late
// (see RedisStore for exactly what it sees and when). When Redis is
// unreachable each breaker carries on alone on its local state, and
// re-joins the shared state when Redis returns.
package breaker
