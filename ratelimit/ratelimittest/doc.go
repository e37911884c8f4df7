// Package ratelimittest is the conformance suite of ratelimit.Limiter: the
// cases every limiter must pass, for each Algorithm it implements, whatever
// it keeps its counters in. ratelimit's own memory and Redis limiters run
// it; a third party's limiter (on DynamoDB, Memcached, …) proves it decides
// exactly as they do by running it too:
//
//	func TestMyLimiterConforms(t *testing.T) {
//		ratelimittest.TestLimiter(t, ratelimittest.Features{}, func(t *testing.T) ratelimittest.Backend {
//			clock := newManualClock()
//			return ratelimittest.Backend{
//				NewLimiter: func(alg ratelimit.Algorithm, l ratelimit.Limit) (ratelimit.Limiter, error) {
//					return mylimiter.New(table(t), alg, l, mylimiter.WithClock(clock.Now))
//				},
//				Now:     clock.Now,
//				Advance: clock.Advance,
//			}
//		})
//	}
//
// Each case gets a fresh backend from the factory and runs as a subtest
// named after it, with a subtest per algorithm, so `go test -run
// 'TestMyLimiterConforms/RetryAfter_is_exact/token-bucket'` runs one;
// Cases is exported for a caller that picks its own.
//
// Most cases move time: the limiter must decide by a clock the factory can
// move (Backend.Now and Advance), as ratelimit's memory limiter does with
// WithClock. A backend that decides by a clock nobody can move (a real
// server's) leaves Advance nil: the cases that need time travel then skip,
// saying so, and only the clock-free cases (bad requests, independent
// keys, concurrent callers) run.
//
// The decisions are checked to the microsecond against the semantics in
// ratelimit's doc comment: TokenBucket starts with Burst and refills
// continuously, LeakyBucket admits Burst at one instant with Delays
// Period/Rate apart, FixedWindow aligns windows to multiples of Period,
// SlidingWindowLog holds at most Rate in any Period, SlidingWindowCounter
// weights the previous window exactly. Denied requests consume nothing;
// n < 1 is ErrInvalidRequest and an n the limit can never admit is
// ErrExceedsLimit. A limiter that also implements ratelimit.Peeker gets
// Peek checked too.
package ratelimittest
