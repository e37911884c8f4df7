package cache

import (
	"context"
	"hash/maphash"
	"sync/atomic"
)

// On Redis, the GET of a Get that misses already holds what the load it
// starts needs to fence its store (see missFencer), so the load does not
// read the key again: a cold read is the GET, the loader and the fenced
// store, three round trips instead of four.
//
// Why a fence read by the caller rather than by the load is safe: the
// store is a compare-and-set against what the read found, so a fence that
// is stale by the time the store runs only makes the store refused (the
// callers still get the loaded value, the next Get loads again); it never
// stores over anything the read did not see. An Invalidate anywhere after
// the GET replaces the key with a fresh tombstone the fence cannot match:
// it wins as it does when the load reads the fence itself.
//
// What the load's own read still did is answer from the cache when a
// value arrived between the caller's miss and the load, most often when
// another load of the key in this process ended in between: its callers
// would then have loaded once more, and their store been refused. So the
// caller's fence is reused only when no load of the key (nor of another
// key of its stripe) ended here, and it was not invalidated here, since
// the caller's GET began; else the load reads the key again, as before.
// Another process's store in that window (microseconds) costs one load
// more, never a wrong value.

// endStripes is how many stripes flightEnds keeps. Keys sharing a stripe
// only make the fast path give way to the re-read more often: 1024 keep
// that rare with hundreds of loads ending during one GET, for 8 KiB per
// Aside over Redis.
const endStripes = 1024

// flightEnds records, per stripe of keys, when a load of one of them last
// ended or one was invalidated in this process, on a counter a caller
// reads before its GET.
type flightEnds struct {
	seq     atomic.Uint64 // bumped, under Aside.mu, at every end
	seed    maphash.Seed
	stripes [endStripes]uint64 // under Aside.mu: seq at the stripe's last end
}

func newFlightEnds() *flightEnds { return &flightEnds{seed: maphash.MakeSeed()} }

func (e *flightEnds) stripe(key string) *uint64 {
	return &e.stripes[maphash.String(e.seed, key)%endStripes]
}

// ended records that a load of key ended or key was invalidated; the
// caller holds Aside.mu.
func (e *flightEnds) ended(key string) { *e.stripe(key) = e.seq.Add(1) }

// missRead is what a Get that missed read that its load may reuse: the
// fence (the zero one when there is none to reuse) and the flightEnds
// counter before the read.
type missRead struct {
	fence fence
	seq   uint64
}

// read is Get's cache read: through missFence when the cache has one,
// with what the load a miss starts may reuse.
func (a *Aside[V]) read(ctx context.Context, key string) (Entry[V], bool, missRead, error) {
	if a.missFence == nil {
		e, ok, err := a.entries.GetEntry(ctx, key)
		return e, ok, missRead{}, err
	}
	m := missRead{seq: a.ends.seq.Load()}
	e, ok, fc, err := a.missFence.getEntryFence(ctx, key)
	m.fence = fc
	return e, ok, m, err
}

// reusable returns the fence a new flight of key may store with instead
// of reading it again, the zero fence when it may not; the caller holds
// a.mu.
func (a *Aside[V]) reusable(key string, m missRead) fence {
	if !m.fence.valid || *a.ends.stripe(key) > m.seq {
		return fence{}
	}
	return m.fence
}

// flightEnded records, under a.mu, that key's load ended or key was
// invalidated (see flightEnds).
func (a *Aside[V]) flightEnded(key string) {
	if a.ends != nil {
		a.ends.ended(key)
	}
}
