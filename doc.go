// Package patterns is the index of a library of system-design patterns
// that backend teams keep rewriting by hand. Each pattern is a package of
// its own, with an in-memory implementation (one process, tests) and a
// Redis-backed one (a fleet behind a load balancer) behind one small
// interface:
//
//   - [github.com/sysdesign/patterns/ratelimit]: token bucket, leaky
//     bucket, fixed window, sliding window log and counter; HTTP
//     middleware; fail-open, fail-closed and fallback wrappers.
//   - [github.com/sysdesign/patterns/breaker]: a circuit breaker (closed,
//     open, half-open) with failure-rate and slow-call thresholds, metrics
//     and a fleet-wide Redis store.
//   - [github.com/sysdesign/patterns/cache]: cache-aside over an exact LRU
//     with TTLs, Redis, or both tiers; stampede protection per process and
//     per fleet, negative caching, early refresh.
//   - [github.com/sysdesign/patterns/pubsub]: an event bus with wildcard
//     topics, retries and dead letters; durable consumer groups on Redis
//     Streams.
//   - [github.com/sysdesign/patterns/saga]: orchestrated sagas with
//     compensation, a write-ahead log and crash recovery.
//   - [github.com/sysdesign/patterns/cqrs]: event sourcing with optimistic
//     concurrency, command and query buses, projections that catch up and
//     rebuild.
//
// Every Redis call of every package is bounded (the package's timeout or
// the caller's deadline, whichever is sooner, on any go-redis client), and
// the behaviour of each under a frozen, killed, paused, full or flushed
// Redis is tested and written down in its package documentation. This
// package itself has no code.
package patterns
