// Package cachetest is the conformance suite of cache.Cache: the cases
// every cache must pass, whatever it keeps its entries in. cache's own LRU,
// Redis and Tiered caches run it; a third party's cache (Memcached,
// Ristretto, …) proves it can sit where they do, under cache.Aside
// included, by running it too:
//
//	func TestMyCacheConforms(t *testing.T) {
//		cachetest.TestCache(t, cachetest.Features{}, func(t *testing.T) cachetest.Backend {
//			clock := newManualClock()
//			return cachetest.Backend{
//				Cache:   mycache.New[string](mycache.WithClock(clock.Now)),
//				Advance: clock.Advance,
//			}
//		})
//	}
//
// Each case gets a fresh, empty cache from the factory and runs as a
// subtest named after it, so `go test -run 'TestMyCacheConforms/ttl'` runs
// one; Cases is exported for a caller that picks its own. The suite
// stores strings: a cache generic in its value type is tested as a
// Cache[string].
//
// A cache that also implements cache.EntryCache (the entry metadata
// Aside uses for negative caching and early refresh) gets that checked
// too, and one with a Stats() cache.Stats method its hit and miss
// counts; the cases for them skip on a cache without them. The expiry
// case moves the cache's clock by Backend.Advance; a cache that expires
// by a clock nobody can move (a real Redis server's) passes an Advance
// that sleeps and a short Backend.TTL. The case that checks that
// Aside.Invalidate fences off another instance's load in flight needs a
// second instance over the same store, Backend.Peer; it skips without one
// (Aside fences other instances' loads over cache's own caches only).
package cachetest
