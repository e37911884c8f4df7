package cache

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync/atomic"
	"time"
)

// LRU is an in-process cache bounded by entry count (and optionally by the
// total cost of its values) that evicts the least recently used entry,
// with a TTL per entry.
//
// By default it is exact: one list over all its entries behind one lock,
// so it holds exactly capacity entries before it evicts, evicts exactly
// the least recently used one, and keeps exactly WithMaxCost's budget.
// WithShards(n) with n > 1 splits it into n such LRUs, each behind its own
// lock over the keys that hash to it, for parallel throughput at the price
// of that exactness (see WithShards). WithTinyLFU replaces LRU eviction
// with W-TinyLFU, which weighs how often keys are asked for as well as how
// recently (see there).
//
// Expired entries are never returned. They are dropped when looked up,
// when they reach the tail of the list, and by a sweep that each Set
// advances by a couple of entries, so entries nobody asks for again are
// reclaimed too, without a background goroutine: an LRU needs no Close.
//
// A Get that hits costs no allocation. It reads the clock only once some
// entry has been stored with a TTL: a cache of entries without TTLs never
// reads it.
type LRU[V any] struct {
	shards []shard[V] // one unless WithShards says otherwise
	seed   maphash.Seed
	now    func() time.Time // nil: the real clock
	base   time.Time        // entry times are nanoseconds since base
	hasTTL atomic.Bool      // some entry was ever stored with a TTL
	cost   func(V) int64

	// coarse, when set, is a reading of the clock that its owner (a
	// Tiered) keeps current to within coarseTick while it is being read:
	// one atomic load instead of a clock read (tens of ns on many
	// machines).
	coarse atomic.Pointer[coarseClock]

	// fences are the generations Aside's loads are fenced by (see
	// lru_fence.go), by stripe of the key space.
	fences [fenceStripes]atomic.Uint64
}

var _ EntryCache[int] = (*LRU[int])(nil)

// NewLRU returns an exact LRU of at most capacity entries. Options:
// WithClock, WithShards (opt-in sharding, approximate), WithMaxCost,
// WithTinyLFU (opt-in W-TinyLFU policy). Errors wrap ErrInvalidConfig.
func NewLRU[V any](capacity int, opts ...LRUOption) (*LRU[V], error) {
	if capacity < 1 {
		return nil, fmt.Errorf("%w: NewLRU(%d): capacity must be at least 1", ErrInvalidConfig, capacity)
	}
	o := lruConfig{shards: DefaultShards}
	if err := apply(&o, opts, LRUOption.applyLRU); err != nil {
		return nil, err
	}
	c := &LRU[V]{seed: maphash.MakeSeed(), now: o.now}
	if o.costFn != nil {
		f, ok := o.costFn.(func(V) int64)
		if !ok {
			var zero V
			return nil, fmt.Errorf("%w: WithMaxCost: the cost function is a %T, this LRU needs a func(%T) int64", ErrInvalidConfig, o.costFn, zero)
		}
		c.cost = f
	}
	n := o.shards
	if n > capacity {
		return nil, fmt.Errorf("%w: WithShards(%d) for capacity %d: every shard needs room for an entry", ErrInvalidConfig, n, capacity)
	}
	if o.maxCost > 0 && int64(n) > o.maxCost {
		return nil, fmt.Errorf("%w: WithShards(%d) with WithMaxCost(%d): every shard needs a budget of at least 1", ErrInvalidConfig, n, o.maxCost)
	}
	c.shards = make([]shard[V], n)
	for i := range c.shards {
		// Spread capacity and budget so that the shards add up to them exactly.
		shardCap := capacity / n
		if i < capacity%n {
			shardCap++
		}
		var shardCost int64
		if o.maxCost > 0 {
			shardCost = o.maxCost / int64(n)
			if int64(i) < o.maxCost%int64(n) {
				shardCost++
			}
		}
		c.shards[i].init(shardCap, shardCost, o.tinyLFU)
	}
	if c.now != nil {
		c.base = c.now()
	} else {
		c.base = time.Now()
	}
	return c, nil
}

// clock returns the time in nanoseconds since c.base. The real clock is
// read through the monotonic reading only (time.Since), which costs half of
// a time.Now and ignores wall clock steps.
func (c *LRU[V]) clock() int64 {
	if c.now != nil {
		return int64(c.now().Sub(c.base))
	}
	if p := c.coarse.Load(); p != nil {
		return p.read()
	}
	return int64(time.Since(c.base))
}

// nowIfTTLs is the clock, or 0 while no entry has ever had a TTL: entries
// without one expire at never, so 0 is as good as the real time for them.
func (c *LRU[V]) nowIfTTLs() int64 {
	if c.hasTTL.Load() {
		return c.clock()
	}
	return 0
}

// shardOf returns key's shard and the low 32 bits of its hash, which the
// shard's index uses. The shard is picked by the high 32 bits, mapped onto
// [0, shards) by multiply-shift: always shard 0 when there is one.
func (c *LRU[V]) shardOf(key string) (*shard[V], uint32) {
	h := maphash.String(c.seed, key)
	return &c.shards[(h>>32)*uint64(len(c.shards))>>32], uint32(h)
}

// Get returns key's value if it is cached and has not expired, and marks
// it most recently used. A negative entry (see EntryCache) is a miss. The
// error is always nil: ctx is not looked at, nothing here blocks.
func (c *LRU[V]) Get(_ context.Context, key string) (V, bool, error) {
	now := c.nowIfTTLs()
	s, h := c.shardOf(key)
	s.mu.Lock()
	if s.wt != nil {
		s.wt.record(h, s.hits)
	}
	if e, slot := s.find(key, h); e >= 0 {
		en := &s.entries[e]
		switch {
		case en.expires <= now:
			s.expirations++
			s.remove(e, slot)
		case !en.notFound:
			s.hits++
			s.touch(e)
			v := en.value
			s.mu.Unlock()
			return v, true, nil
		}
	}
	s.misses++
	s.mu.Unlock()
	var zero V
	return zero, false, nil
}

// GetEntry is Get with the entry's metadata, negative entries included.
func (c *LRU[V]) GetEntry(_ context.Context, key string) (Entry[V], bool, error) {
	now := c.nowIfTTLs()
	s, h := c.shardOf(key)
	s.mu.Lock()
	if s.wt != nil {
		s.wt.record(h, s.hits)
	}
	if e, slot := s.find(key, h); e >= 0 {
		en := &s.entries[e]
		if en.expires > now {
			s.hits++
			s.touch(e)
			out := Entry[V]{Value: en.value, NotFound: en.notFound, LoadTime: time.Duration(en.loadTime)}
			if en.deadline != never {
				out.TTL = time.Duration(en.deadline - now)
			}
			s.mu.Unlock()
			return out, true, nil
		}
		s.expirations++
		s.remove(e, slot)
	}
	s.misses++
	s.mu.Unlock()
	return Entry[V]{}, false, nil
}

// Set stores v under key for ttl (0: no expiry) as the most recently used
// entry, evicting the least recently used entries while the cache (with
// WithShards, key's shard) is full; with WithTinyLFU, evicting as
// W-TinyLFU decides (the new key enters the window; the entry leaving it
// may be refused the main region, counted in Stats.Rejections). A value
// costing more than WithMaxCost allows is refused too.
// The error is non-nil only for a negative ttl.
func (c *LRU[V]) Set(_ context.Context, key string, v V, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("%w: Set(%q): negative ttl %s", ErrInvalidRequest, key, ttl)
	}
	c.set(key, v, false, 0, ttl, ttl)
	return nil
}

// SetEntry stores an entry with its metadata for e.TTL (0: no expiry).
func (c *LRU[V]) SetEntry(_ context.Context, key string, e Entry[V]) error {
	if e.TTL < 0 {
		return fmt.Errorf("%w: SetEntry(%q): negative ttl %s", ErrInvalidRequest, key, e.TTL)
	}
	c.set(key, e.Value, e.NotFound, e.LoadTime, e.TTL, e.TTL)
	return nil
}

// expiry is now+ttl, or never for ttl 0; it saturates rather than wraps.
func expiry(now int64, ttl time.Duration) int64 {
	if ttl <= 0 || int64(ttl) >= never-now {
		return never
	}
	return now + int64(ttl)
}

// set stores an entry that expires from the LRU after ttl and reports
// deadlineTTL as its time to live (Tiered keeps a value locally for less
// time than it has left in Redis).
func (c *LRU[V]) set(key string, v V, notFound bool, loadTime, ttl, deadlineTTL time.Duration) {
	c.setIf(nil, 0, key, v, notFound, loadTime, ttl, deadlineTTL)
}

// setIf is set, done only if stripe (when not nil) still holds gen once
// key's shard is locked: Invalidate bumps the stripe before it takes the
// lock to delete, so a store that saw the old generation is either
// refused or deleted after. It reports whether it stored (or was refused
// by the admission policy or the cost bound: that is not a fence).
func (c *LRU[V]) setIf(stripe *atomic.Uint64, gen uint64, key string, v V, notFound bool, loadTime, ttl, deadlineTTL time.Duration) bool {
	var cost int64
	if c.cost != nil && !notFound {
		cost = max(c.cost(v), 0)
	}
	if ttl > 0 && !c.hasTTL.Load() {
		c.hasTTL.Store(true)
	}
	ttls := c.hasTTL.Load()
	var now int64
	if ttls {
		now = c.clock()
	}
	s, h := c.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if stripe != nil && stripe.Load() != gen {
		return false
	}
	if ttls {
		s.sweepStep(now, 2)
	}
	e, slot := s.find(key, h)
	if s.maxCost > 0 && cost > s.maxCost {
		if e >= 0 {
			s.remove(e, slot) // never leave the old value behind the new one
		}
		s.rejections++
		return true
	}
	if e < 0 {
		s.makeRoom(now, cost)
		_, slot = s.find(key, h) // evictions may have moved slots
		s.insert(key, h, slot)
		e = s.head
	} else {
		s.touch(e)
	}
	en := &s.entries[e]
	en.value, en.notFound, en.loadTime = v, notFound, int64(loadTime)
	en.expires, en.deadline = expiry(now, ttl), expiry(now, deadlineTTL)
	s.cost += cost - en.cost
	en.cost = cost
	for s.maxCost > 0 && s.cost > s.maxCost {
		victim := s.costVictim(e)
		if victim < 0 {
			break
		}
		s.drop(victim, now, false)
	}
	return true
}

// makeRoom evicts until a new entry of cost fits: the least recently
// used entries, or with WithTinyLFU as W-TinyLFU decides (admitRoom).
// A new key always gets in.
func (s *shard[V]) makeRoom(now int64, cost int64) {
	full := func() bool {
		return s.count >= s.capacity || (s.maxCost > 0 && s.cost+cost > s.maxCost)
	}
	if s.wt != nil {
		s.admitRoom(now, full)
		return
	}
	for full() {
		s.drop(s.tail, now, false)
	}
}

// Delete drops keys. The error is always nil.
func (c *LRU[V]) Delete(_ context.Context, keys ...string) error {
	for _, key := range keys {
		s, h := c.shardOf(key)
		s.mu.Lock()
		if e, slot := s.find(key, h); e >= 0 {
			s.remove(e, slot)
		}
		s.mu.Unlock()
	}
	return nil
}

// Len returns how many entries the LRU holds, expired ones not yet
// reclaimed included.
func (c *LRU[V]) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.count
		s.mu.Unlock()
	}
	return n
}

// Purge drops every entry. Stats are kept.
func (c *LRU[V]) Purge() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.reset()
		s.mu.Unlock()
	}
}

// DeleteExpired drops every expired entry now, and returns how many it
// dropped. The LRU reclaims them by itself over time; call this to get
// the memory back at once.
func (c *LRU[V]) DeleteExpired() int {
	if !c.hasTTL.Load() {
		return 0
	}
	now := c.clock()
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		before := s.expirations
		s.sweepStep(now, len(s.entries))
		n += int(s.expirations - before)
		s.mu.Unlock()
	}
	return n
}

// Stats returns the LRU's counters: Hits, Misses (Get and GetEntry),
// Evictions, Expirations and Rejections.
func (c *LRU[V]) Stats() Stats {
	var st Stats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Hits += s.hits
		st.Misses += s.misses
		st.Evictions += s.evictions
		st.Expirations += s.expirations
		st.Rejections += s.rejections
		s.mu.Unlock()
	}
	return st
}
