// Package ratelimit decides whether a request under a key (a user, an API
// token, a client IP) may proceed, with five algorithms, in memory for one
// process and on Redis for a fleet, behind one interface.
//
// # Happy path
//
//	lim, err := ratelimit.NewRedis(rdb, ratelimit.TokenBucket, ratelimit.PerSecond(10))
//	if err != nil { … }
//	d, err := lim.Allow(ctx, "user:"+userID)
//	if err == nil && !d.Allowed {
//		return tooManyRequests(d.RetryAfter) // or use Middleware
//	}
//
// # Choosing an algorithm
//
//   - TokenBucket: bursts up to Burst, then Rate per Period. The usual
//     choice for APIs (Stripe's).
//   - LeakyBucket: the same admission, but every admitted request is given
//     a Delay so they leave evenly spaced: for smoothing load on a
//     downstream that cannot take bursts.
//   - FixedWindow: at most Rate per clock-aligned window. Cheapest, but a
//     client can send Rate at the end of one window and Rate at the start
//     of the next: twice the limit in a moment (the boundary spike).
//   - SlidingWindowLog: at most Rate in any interval of length Period,
//     exactly, by keeping every admitted request: memory grows with Rate.
//   - SlidingWindowCounter: the fixed window's cost with the spike mostly
//     gone: the previous window's count is weighted by its overlap with the
//     sliding window. Exact arithmetic, approximate model.
//
// # Semantics both backends share
//
// Decisions are exact to the microsecond and identical on the memory and
// Redis backends (one conformance suite runs on both): all arithmetic is
// on integers (for the buckets, in ticks of 1/Rate µs), every Decision field
// is rounded up to whole microseconds, and RetryAfter is the least wait
// after which the same request is allowed. Denied requests consume
// nothing. AllowN with n < 1 is ErrInvalidRequest; an n the limit can never
// admit is ErrExceedsLimit. Limits must keep max(Rate, Burst) × Period in
// microseconds below 2^53 (the Redis scripts compute in doubles).
//
// # Memory
//
// Memory is sharded and allocation-free per decision on a known key. Its
// limits are per process: N processes behind a load balancer admit N times
// the limit. Idle keys are dropped, so memory follows active keys;
// WithMaxKeys bounds it hard: at the cap a new key is denied
// (ErrTooManyKeys, with a denied Decision) and tracked keys are decided as
// usual, so a flood of new keys cannot change anyone else's answer.
//
// # Redis
//
// Redis keeps one key per limited key, updated by one Lua script per
// decision (one round trip), with the Redis server's clock, so a fleet
// shares the limit exactly even when app servers' clocks disagree. Keys
// expire when they would be idle. When Redis fails the limiter returns the
// error; Fallback (to a local Memory limiter), FailOpen and FailClosed
// decide what the caller gets instead.
//
// For a hot key, NewLeased spends a shared (Redis) limiter's tokens in
// leases of up to DefaultMaxLease: one round trip per lease instead of
// one per decision, at the price of at most a lease less one admitted
// beyond the limit per process (see Leased for the exact bound).
//
// # When Redis fails
//
// Fallback(redisLimiter, memoryLimiter) answers from a local limiter (give
// it this instance's share of the fleet's limit), FailOpen allows and
// FailClosed denies, each while the wrapped limiter fails. After a failure
// they stop asking it for a cooldown (WithCooldown, DefaultCooldown by
// default) and then let one call probe it, so an outage costs one timeout
// per cooldown rather than one per request. Caller errors (bad n) and a
// full key table's ErrTooManyKeys pass through.
//
// A call that timed out may still have been run by Redis once it resumed,
// consuming quota: its outcome is unknown, and the limiter never refunds
// it (see Redis.AllowN).
//
// # Options, observing, reading without spending
//
// Each constructor takes its own option type, so an option that does not
// fit it does not compile: NewMemory takes MemoryOptions (WithClock,
// WithMaxKeys), NewRedis RedisOptions (WithPrefix, WithTimeout,
// WithoutTimeout), NewLeased LeaseOptions (WithLeaseSize, WithLeaseKeys,
// WithClock), the wrappers WrapOptions (WithCooldown, WithOnDegrade), and
// all of them the LimiterOptions WithObserver and WithLogger.
// Defaults are the Default… constants.
//
// WithObserver receives an Event for what an operator needs to know:
// Redis errors, keys refused by a full table, a wrapper degrading,
// answering in its limiter's place, and recovering (see EventKind).
// WithLogger logs the same through log/slog, never with the rate-limit
// key. Stats (see StatsReporter) counts allowed, denied, errors and
// fallbacks, and the keys a Memory limiter tracks.
//
// Peek (see Peeker) reads a key's quota, what Allow would decide and how
// much is left, without spending any: on both backends, for every
// algorithm, and through the wrappers.
//
// # HTTP
//
// Middleware limits an http.Handler by client IP (or a key function),
// answers 429 with Retry-After in whole seconds (rounded up, so a client
// that waits that long succeeds), and sets the RateLimit and
// RateLimit-Policy fields of the IETF httpapi draft on every response
// (X-RateLimit-* with WithLegacyHeaders). Forwarding headers are believed
// only from WithTrustedProxies. IPv6 clients are keyed per /64
// (DefaultIPv6Prefix; WithIPv6Prefix changes it), since a host chooses the
// low 64 bits of its address at will. ClientIP builds that same key
// function for use inside one of your own ("login:" + client IP), and
// WithSkip exempts requests such as health checks. A LeakyBucket's Delay
// is waited out before the handler runs. A new client refused by a full
// key table (WithMaxKeys) is answered 429 with "X-RateLimit-Reason:
// too-many-keys" and reported to WithOnTooManyKeys.
package ratelimit
