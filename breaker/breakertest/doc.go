// Package breakertest is the conformance suite of breaker.Breaker: the
// state machine every breaker must follow, whichever store keeps its
// circuit. breaker runs it on a breaker of its own (no Store) and on
// breakers sharing a RedisStore, on miniredis, a real Redis and a Redis
// Cluster.
//
// breaker.Store is sealed (only this module implements it), so what a user
// runs the suite against is a breaker built the way their service builds
// one: their Config, their RedisStore options, their Redis deployment (a
// Sentinel failover client, a Cluster, a proxy in between). The factory
// receives the case's Config, whose Clock is the suite's manual clock; the
// breaker, and its store's scripts, must decide by that clock:
//
//	func TestOurBreakersConform(t *testing.T) {
//		breakertest.TestBreaker(t, breakertest.Features{}, func(t *testing.T, cfg breaker.Config) *breaker.Breaker {
//			cfg.Name = "payments"
//			b, err := breaker.New(cfg)
//			require.NoError(t, err)
//			return b
//		})
//	}
//
// Each case runs as a subtest named after it, so `go test -run
// 'TestOurBreakersConform/FailedProbeReopens'` runs one; Cases is
// exported for a caller that picks its own.
package breakertest
