package cache

// localServable reports whether a local hit may be served. It always may
// while subscribed (an invalidation would have removed a stale entry) and
// by default otherwise too (the local tier is then empty but for a fill
// racing the flush, which the flush voids). With
// WithServeStaleWhileDetached, a detached local tier is served until its
// deadline; the first read after it flushes the tier. The fast path is
// two atomic loads: the clock is read only while detached.
func (t *Tiered[V]) localServable() bool {
	if t.staleMax == 0 || t.live.Load() {
		return true
	}
	until := t.staleUntil.Load()
	if until != 0 && t.local.clock() < until {
		t.staleHits.Add(1)
		return true
	}
	// Past the deadline (or closed): whatever is left may be stale.
	if until != 0 && t.staleUntil.CompareAndSwap(until, 0) {
		t.flushLocal()
	}
	return false
}

// detach starts serving the local tier detached, for staleMax from now,
// unless it already does: a subscription that keeps failing to come back
// is lost again and again, and must not extend the deadline. It runs on
// the listener's goroutine, before live goes false, so a read that sees
// live false sees the deadline too.
func (t *Tiered[V]) detach() {
	if t.lost.Load() || !t.live.Load() {
		return // already detached, or never attached (nothing local to serve)
	}
	t.staleUntil.Store(t.local.clock() + int64(t.staleMax))
}
