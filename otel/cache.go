package otel

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/sysdesign/patterns/cache"
)

// CacheStatsReporter is implemented by every cache of package cache: LRU,
// Redis, Tiered and Aside.
type CacheStatsReporter interface {
	Stats() cache.Stats
}

// InstrumentCache registers instruments that read c.Stats at each collection
// (c is an LRU, a Redis, a Tiered or an Aside; each fills the counts that
// apply to it, see cache.Stats, and the others stay 0):
//
//   - patterns.cache.lookups {lookup}, counter, patterns.outcome = "hit" |
//     "miss";
//   - patterns.cache.loads {load}, counter, patterns.outcome = "success" |
//     "error" | "not_found": loader calls;
//   - patterns.cache.coalesced_loads {lookup}, counter: misses served by a
//     load another caller started;
//   - patterns.cache.fleet_lock.waits {wait}, counter: loads that waited for
//     another process's fleet lock;
//   - patterns.cache.refreshes {load}, counter: early refreshes started;
//   - patterns.cache.evictions, patterns.cache.expirations,
//     patterns.cache.rejections {entry}, counters;
//   - patterns.cache.invalidations {entry}, counter: local entries a Tiered
//     dropped on other instances' word;
//   - patterns.cache.errors {error}, counter: cache failures worked around.
//
// Load latency is not in Stats: wrap the loader with InstrumentLoader.
// Every point carries patterns.name = name and attrs.
func InstrumentCache(m metric.Meter, name string, c CacheStatsReporter, attrs ...attribute.KeyValue) (metric.Registration, error) {
	b, err := newBuilder(m, name, c)
	if err != nil {
		return nil, err
	}
	base := baseAttrs(name, attrs)
	lookups := b.counter("patterns.cache.lookups", "{lookup}", "Cache lookups, by outcome.")
	loads := b.counter("patterns.cache.loads", "{load}", "Loader calls, by outcome.")
	shared := b.counter("patterns.cache.coalesced_loads", "{lookup}", "Misses served by a load another caller in this process started.")
	fleetWaits := b.counter("patterns.cache.fleet_lock.waits", "{wait}", "Loads that waited for another process's fleet lock.")
	refreshes := b.counter("patterns.cache.refreshes", "{load}", "Background early refreshes started.")
	evictions := b.counter("patterns.cache.evictions", "{entry}", "Entries dropped to make room.")
	expirations := b.counter("patterns.cache.expirations", "{entry}", "Entries dropped because their TTL ran out.")
	rejections := b.counter("patterns.cache.rejections", "{entry}", "Values not stored: the admission policy or the cost bound refused them.")
	invalidations := b.counter("patterns.cache.invalidations", "{entry}", "Local entries dropped on other instances' invalidation messages.")
	errs := b.counter("patterns.cache.errors", "{error}", "Cache failures worked around.")
	hit, miss := with(base, AttrOutcome.String("hit")), with(base, AttrOutcome.String("miss"))
	loadOK, loadErr, loadNF := with(base, AttrOutcome.String("success")), with(base, AttrOutcome.String("error")), with(base, AttrOutcome.String("not_found"))
	plain := with(base)
	return b.register(func(_ context.Context, o metric.Observer) error {
		s := c.Stats()
		o.ObserveInt64(lookups, u64(s.Hits), hit)
		o.ObserveInt64(lookups, u64(s.Misses), miss)
		ok := s.Loads - min(s.Loads, s.LoadErrors+s.NotFound)
		o.ObserveInt64(loads, u64(ok), loadOK)
		o.ObserveInt64(loads, u64(s.LoadErrors), loadErr)
		o.ObserveInt64(loads, u64(s.NotFound), loadNF)
		o.ObserveInt64(shared, u64(s.Shared), plain)
		o.ObserveInt64(fleetWaits, u64(s.FleetWaits), plain)
		o.ObserveInt64(refreshes, u64(s.Refreshes), plain)
		o.ObserveInt64(evictions, u64(s.Evictions), plain)
		o.ObserveInt64(expirations, u64(s.Expirations), plain)
		o.ObserveInt64(rejections, u64(s.Rejections), plain)
		o.ObserveInt64(invalidations, u64(s.Invalidations), plain)
		o.ObserveInt64(errs, u64(s.CacheErrors), plain)
		return nil
	})
}
