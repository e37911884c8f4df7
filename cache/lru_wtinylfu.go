package cache

import "math"

// W-TinyLFU (Einziger, Eytan, Friedman, Manes: "Adaptive Software Cache
// Management", 2018; the policy of Caffeine) splits a shard's entries in
// three LRU lists, its segments:
//
//   - the window, where every new key starts (the shard's own list, so a
//     plain LRU is a window as big as the shard);
//   - probation, where the window's least recently used entry goes when
//     the window overflows, and only if the frequency sketch says it was
//     asked for more often than probation's own least recently used entry,
//     which it then replaces (else it is dropped: a rejection);
//   - protected, where a probation entry moves when it is hit again, up to
//     protectedShare of the main region (probation and protected); the
//     protected entries pushed out go back to probation.
//
// The window lets a burst of new keys build up frequency before it must
// compete, which plain TinyLFU admission refuses; the main region keeps
// frequent keys against scans. How big the window should be depends on
// the traffic (recency-heavy traffic wants a big one, frequency-heavy a
// small one), so a hill climber resizes it: every climbSample × capacity
// lookups it compares the hit rate with the previous sample's and keeps
// moving the window's size the same way if the rate went up, else turns
// back, with steps that shrink as it settles and grow again when the
// traffic changes.
const (
	segWindow    uint8 = iota // new keys; the whole of a plain LRU
	segProbation              // the main region's admission side
	segProtected              // the main region's entries hit twice
)

const (
	initialWindowShare = 0.01   // of the capacity, to begin with
	protectedShare     = 0.80   // of the main region
	climbSample        = 10     // lookups per climb, in capacities
	climbStepShare     = 0.0625 // a fresh step, of the capacity
	climbRestart       = 0.05   // a hit rate change that restarts the steps
	climbDecay         = 0.98   // how a step shrinks from one climb to the next
	victimSample       = 32     // main region entries a victim is picked from
)

// segList is the head and tail of a segment's list.
type segList struct{ head, tail int32 }

// wtinylfu is a shard's W-TinyLFU state; the window's list is the
// shard's own head and tail. It is guarded by the shard's lock.
type wtinylfu struct {
	sketch               *sketch
	probation, protected segList
	n                    [3]int // entries per segment

	capacity     int
	window       float64 // the window's target size, as the climber moves it
	windowMax    int     // window rounded: at least 1, at most capacity
	protectedMax int

	sample                         uint64 // lookups per climb
	lookups, lastHits, lastLookups uint64
	step, lastRate                 float64
}

func newWTinyLFU(capacity int) *wtinylfu {
	w := &wtinylfu{
		sketch: newSketch(capacity), capacity: capacity,
		probation: segList{-1, -1}, protected: segList{-1, -1},
		window: initialWindowShare * float64(capacity),
		// Try a smaller window first (as Caffeine does): on the skewed
		// traffic caches mostly see, growing first costs a Zipf(1.01)
		// trace 0.008 of hit ratio before the climber turns back.
		step:   -climbStepShare * float64(capacity),
		sample: uint64(max(climbSample*float64(capacity), 1)),
	}
	w.resize()
	return w
}

// resize derives the segments' bounds from the window's target size.
func (w *wtinylfu) resize() {
	w.window = min(max(w.window, 1), float64(w.capacity))
	w.windowMax = int(math.Round(w.window))
	w.protectedMax = int(protectedShare * float64(w.capacity-w.windowMax))
}

// record counts a lookup of the key with hash h, and climbs once a sample
// is complete. hits is the shard's hit count so far.
func (w *wtinylfu) record(h uint32, hits uint64) {
	w.sketch.add(h)
	w.lookups++
	if n := w.lookups - w.lastLookups; n >= w.sample {
		w.climb(float64(hits-w.lastHits) / float64(n))
		w.lastHits, w.lastLookups = hits, w.lookups
	}
}

// climb moves the window's size by a step, the same way as last time if
// the hit rate went up (or held), else the other way.
func (w *wtinylfu) climb(rate float64) {
	change := rate - w.lastRate
	amount := w.step
	if change < 0 {
		amount = -amount
	}
	if math.Abs(change) >= climbRestart {
		w.step = math.Copysign(climbStepShare*float64(w.capacity), amount)
	} else {
		w.step = climbDecay * amount
	}
	w.lastRate = rate
	w.window += amount
	w.resize()
}

// ends returns the head and tail of segment seg's list.
func (s *shard[V]) ends(seg uint8) (head, tail *int32) {
	switch seg {
	case segProbation:
		return &s.wt.probation.head, &s.wt.probation.tail
	case segProtected:
		return &s.wt.protected.head, &s.wt.protected.tail
	}
	return &s.head, &s.tail
}

// moveTo takes entry e out of its segment and makes it the most recently
// used of seg.
func (s *shard[V]) moveTo(e int32, seg uint8) {
	s.unlink(e)
	s.wt.n[s.entries[e].seg]--
	s.pushFront(e, seg)
	s.wt.n[seg]++
}

// promote moves a probation entry that was hit into protected, and the
// protected entries that no longer fit back to probation.
func (s *shard[V]) promote(e int32) {
	s.moveTo(e, segProtected)
	s.demoteOverflow()
}

// demoteOverflow moves protected's least recently used entries to
// probation while protected holds more than its share (which shrinks
// when the climber grows the window).
func (s *shard[V]) demoteOverflow() {
	w := s.wt
	for w.n[segProtected] > w.protectedMax && w.n[segProtected] > 1 {
		s.moveTo(w.protected.tail, segProbation)
	}
}

// mainVictim is the entry the main region gives up first: probation's
// least recently used, else protected's; -1 when the region is empty.
func (w *wtinylfu) mainVictim() int32 {
	if w.probation.tail >= 0 {
		return w.probation.tail
	}
	return w.protected.tail
}

// admitRoom makes room for a new key, which will enter the window: while
// the shard is full, the window's least recently used entry (when the
// window is at its size) duels the main region's victim for a place in
// probation, and the loser goes; a window below its size (after the
// climber grew it) takes the room from the main region instead. When
// the shard has room but the window is at its size, its least recently
// used entry moves to probation for free.
func (s *shard[V]) admitRoom(now int64, full func() bool) {
	w := s.wt
	s.demoteOverflow()
	for full() {
		victim := s.coldestVictim()
		if w.n[segWindow] < w.windowMax && victim >= 0 {
			s.drop(victim, now, false)
			continue
		}
		candidate := s.tail
		if candidate < 0 { // everything is in main: the window shrank to nothing
			s.drop(victim, now, false)
			continue
		}
		switch {
		case victim < 0:
			s.drop(candidate, now, false) // no main region: plain LRU
		case s.entries[candidate].expires <= now:
			s.drop(candidate, now, false)
		case s.entries[victim].expires <= now ||
			w.sketch.estimate(s.entries[candidate].hash) > w.sketch.estimate(s.entries[victim].hash):
			s.drop(victim, now, false)
			s.moveTo(candidate, segProbation)
		default:
			s.drop(candidate, now, true)
		}
	}
	for w.n[segWindow] >= w.windowMax && s.tail >= 0 && w.n[segProbation]+w.n[segProtected] < s.capacity-w.windowMax {
		s.moveTo(s.tail, segProbation)
	}
}

// coldestVictim is the least frequently used of the main region's
// victimSample least recently used entries (the least recently used of
// them on a tie): plain W-TinyLFU's victim is the least recently used
// alone, which may be a key asked for often but not lately while a
// colder one sits just before it. The probation entries looked at and
// not picked move to probation's front, so the next eviction looks at
// others: over evictions the sample sweeps all of probation, like a
// clock hand, and its coldest entry stays at the tail until it goes,
// which makes the victim close to probation's least frequently used
// (rescanning the same tail only picks the coldest of the oldest); the
// move is one splice, not one move per entry. On a
// Zipf(1.01) trace (100k keys, capacity 10k) the least recently used
// victim gives a hit ratio of 0.7974, the coldest of the tail 0.7989,
// the sweep 0.7997 (a perfect LFU gets 0.7998), for up to victimSample
// sketch estimates per eviction (a few hundred nanoseconds on a miss
// that evicts; a hit pays nothing for it).
func (s *shard[V]) coldestVictim() int32 {
	w := s.wt
	v := w.mainVictim()
	if v < 0 {
		return v
	}
	best, bestF, last := v, w.sketch.estimate(s.entries[v].hash), v
	for i, e := 1, s.entries[v].prev; i < victimSample && e >= 0; i, e = i+1, s.entries[e].prev {
		if f := w.sketch.estimate(s.entries[e].hash); f < bestF {
			best, bestF = e, f
		}
		last = e
	}
	if s.entries[v].seg == segProbation {
		s.rotateTail(last, best)
	}
	return best
}

// drop removes entry e to make room, counting it as an expiration if it
// had expired, else as a rejection (admission refused it) or an eviction.
func (s *shard[V]) drop(e int32, now int64, rejected bool) {
	switch {
	case s.entries[e].expires <= now:
		s.expirations++
	case rejected:
		s.rejections++
	default:
		s.evictions++
	}
	s.remove(e, -1)
}

// costVictim is the entry to evict next to bring the cost down, other
// than keep (the entry just stored): the main region's victim, else the
// window's least recently used, else the entry used just after keep in
// its own segment; -1 when keep is all there is.
func (s *shard[V]) costVictim(keep int32) int32 {
	if s.wt != nil {
		for _, v := range []int32{s.wt.probation.tail, s.wt.protected.tail} {
			if v >= 0 && v != keep {
				return v
			}
		}
	}
	if s.tail >= 0 && s.tail != keep {
		return s.tail
	}
	return s.entries[keep].prev
}

// rotateTail moves the entries of a segment's list from last to its tail
// to the front, in their order, except keep, one of them, which becomes
// the tail: the rotation of coldestVictim as two splices.
func (s *shard[V]) rotateTail(last, keep int32) {
	seg := s.entries[last].seg
	head, tail := s.ends(seg)
	if p := s.entries[last].prev; p >= 0 {
		// Cut the run [last, tail] off and put it in front of the head.
		s.entries[p].next = -1
		s.entries[*tail].next = *head
		s.entries[*head].prev = *tail
		s.entries[last].prev = -1
		*head, *tail = last, p
	}
	s.unlink(keep)
	en := &s.entries[keep]
	en.prev, en.next = *tail, -1
	if *tail >= 0 {
		s.entries[*tail].next = keep
	} else {
		*head = keep
	}
	*tail = keep
}
