package cache

// TieredLive reports whether t is subscribed to invalidations, so the
// external conformance test (package cache_test) can wait for it before
// its first local fill.
func TieredLive[V any](t *Tiered[V]) bool { return t.live.Load() }
