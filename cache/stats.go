package cache

// Stats counts what a cache or an Aside did since it was made. Each type
// fills the fields that apply to it and leaves the others 0:
//
//   - LRU: Hits, Misses, Evictions, Expirations, Rejections.
//   - Redis: Hits, Misses, CacheErrors.
//   - Tiered: Hits and Misses over both tiers (LocalHits of them served by
//     the local tier), the local tier's Evictions, Expirations and
//     Rejections, Invalidations received and CacheErrors.
//   - Aside: Hits, Misses, Loads, LoadErrors, NotFound, Shared, FleetWaits,
//     Refreshes, Fenced, CacheErrors.
type Stats struct {
	Hits   uint64 // lookups answered from the cache (for Aside: negative entries too)
	Misses uint64 // lookups the cache could not answer

	Loads      uint64 // loader calls
	LoadErrors uint64 // loader calls that failed (ErrNotFound is not a failure)
	NotFound   uint64 // loader calls that answered ErrNotFound

	Evictions   uint64 // entries dropped to make room
	Expirations uint64 // entries dropped because their TTL ran out
	Rejections  uint64 // values not stored: the admission policy or WithMaxCost refused them

	Shared     uint64 // misses served by a load another caller in this process started
	FleetWaits uint64 // loads that waited for another process's fleet lock
	Refreshes  uint64 // background early refreshes started (XFetch)
	Fenced     uint64 // Aside: loads not stored because an Invalidate (in any process) ran since they read the cache

	LocalHits     uint64 // Tiered: hits served by the local tier (included in Hits)
	StaleHits     uint64 // Tiered: local hits served while detached (WithServeStaleWhileDetached; included in LocalHits)
	Invalidations uint64 // Tiered: keys dropped from the local tier by other instances' messages, plus flushes

	CacheErrors uint64 // cache or Redis failures that were worked around
}

// HitRate is Hits / (Hits + Misses), or 0 before any lookup.
func (s Stats) HitRate() float64 {
	if n := s.Hits + s.Misses; n > 0 {
		return float64(s.Hits) / float64(n)
	}
	return 0
}
