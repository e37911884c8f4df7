package cache

import (
	"math"
	"sync"
)

// never is the expiry of an entry without a TTL.
const never = math.MaxInt64

// lruEntry is one cached key. Entries live in a shard's entries slice and
// are chained into the recency list by index, so the list costs no
// pointers and no allocation per entry.
type lruEntry[V any] struct {
	key      string
	value    V
	expires  int64 // on the LRU's clock (ns); never: no TTL
	deadline int64 // the expiry GetEntry reports; after expires for Tiered, else equal
	loadTime int64 // Entry.LoadTime (ns)
	cost     int64
	hash     uint32 // the low 32 bits of the key's hash, as the index holds it
	prev     int32  // towards the most recently used; -1 at the head
	next     int32  // towards the least recently used; -1 at the tail; free list link
	notFound bool
	live     bool
	seg      uint8 // its W-TinyLFU segment (segWindow without WithTinyLFU)
}

// shard is an exact LRU over the keys that hash to it, behind one lock.
//
// The index is an open-addressing hash table with linear probing whose
// slots hold a key's 32-bit hash and its entry's position (0: empty), so a
// lookup compares hashes in one array and the key in the single entry
// whose hash matches. Deletion shifts later slots of the probe chain back
// (no tombstones), and growing rehashes from the stored hashes without
// hashing a key again. The index never holds more than 3/4 of its slots.
type shard[V any] struct {
	// What a hit reads and writes comes first, on one cache line, so that
	// a hit moves as few lines between cores as it can.
	mu      sync.Mutex
	head    int32 // most recently used; -1: empty
	tail    int32 // least recently used; -1: empty
	hits    uint64
	misses  uint64
	index   []uint64      // hash<<32 | entry position + 1; 0: empty
	wt      *wtinylfu     // WithTinyLFU's admission and segments; nil: plain LRU
	entries []lruEntry[V] // written by inserts only: its header may start the next line

	free     int32 // first free entry (chained by next); -1: none
	count    int
	capacity int
	cost     int64
	maxCost  int64 // 0: no cost bound
	cursor   int   // where the incremental sweep resumes

	evictions, expirations, rejections uint64

	// Pad to 256 bytes: a multiple of the cache line, so every shard of
	// the (line-aligned) shards array starts a line, and one shard's hot
	// line never holds another's.
	_ [96]byte
}

func (s *shard[V]) init(capacity int, maxCost int64, tinyLFU bool) {
	s.capacity, s.maxCost = capacity, maxCost
	s.free, s.head, s.tail = -1, -1, -1
	if tinyLFU {
		s.wt = newWTinyLFU(capacity)
	}
}

// home is where a hash starts probing in an index of n slots: multiply-shift
// maps it uniformly onto [0, n) without a division.
func home(h uint32, n int) int { return int(uint64(h) * uint64(n) >> 32) }

// find returns key's entry position, or -1, and the index slot it is in
// (or the empty slot where it would go).
func (s *shard[V]) find(key string, h uint32) (int32, int) {
	n := len(s.index)
	if n == 0 {
		return -1, 0
	}
	for i := home(h, n); ; {
		slot := s.index[i]
		if slot == 0 {
			return -1, i
		}
		if uint32(slot>>32) == h {
			if e := int32(uint32(slot)) - 1; s.entries[e].key == key {
				return e, i
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// slotOf returns the index slot that points at entry e.
func (s *shard[V]) slotOf(e int32) int {
	n := len(s.index)
	want := uint64(s.entries[e].hash)<<32 | uint64(e+1)
	for i := home(s.entries[e].hash, n); ; {
		if s.index[i] == want {
			return i
		}
		if i++; i == n {
			i = 0
		}
	}
}

// unindex empties index slot i by backward-shift deletion: later slots of
// the probe chain move up, so lookups need no tombstones.
func (s *shard[V]) unindex(i int) {
	n := len(s.index)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		slot := s.index[j]
		if slot == 0 {
			break
		}
		// The slot at j may fill the hole at i unless its home lies
		// cyclically in (i, j]: then it must stay at or after its home.
		k := home(uint32(slot>>32), n)
		if (i <= j && i < k && k <= j) || (i > j && (k > i || k <= j)) {
			continue
		}
		s.index[i] = slot
		i = j
	}
	s.index[i] = 0
}

// grow doubles the index, rehashing from the stored hashes.
func (s *shard[V]) grow() {
	old := s.index
	n := max(16, 2*len(old))
	s.index = make([]uint64, n)
	for _, slot := range old {
		if slot == 0 {
			continue
		}
		i := home(uint32(slot>>32), n)
		for s.index[i] != 0 {
			if i++; i == n {
				i = 0
			}
		}
		s.index[i] = slot
	}
}

// insert adds a new entry for key at the head of the list and returns it.
// slot is find's empty slot for key. The caller has made room.
func (s *shard[V]) insert(key string, h uint32, slot int) *lruEntry[V] {
	if (s.count+1)*4 > len(s.index)*3 {
		s.grow()
		_, slot = s.find(key, h)
	}
	var e int32
	if s.free >= 0 {
		e = s.free
		s.free = s.entries[e].next
	} else {
		e = int32(len(s.entries))
		s.entries = append(s.entries, lruEntry[V]{})
	}
	s.index[slot] = uint64(h)<<32 | uint64(e+1)
	en := &s.entries[e]
	*en = lruEntry[V]{key: key, hash: h, live: true}
	s.pushFront(e, segWindow)
	if s.wt != nil {
		s.wt.n[segWindow]++
	}
	s.count++
	return en
}

// pushFront links entry e, unlinked, in as the most recently used of
// segment seg.
func (s *shard[V]) pushFront(e int32, seg uint8) {
	head, tail := s.ends(seg)
	en := &s.entries[e]
	en.seg, en.prev, en.next = seg, -1, *head
	if *head >= 0 {
		s.entries[*head].prev = e
	} else {
		*tail = e
	}
	*head = e
}

// remove drops entry e; slot is its index slot, or -1 if not known.
func (s *shard[V]) remove(e int32, slot int) {
	if slot < 0 {
		slot = s.slotOf(e)
	}
	s.unindex(slot)
	s.unlink(e)
	if s.wt != nil {
		s.wt.n[s.entries[e].seg]--
	}
	en := &s.entries[e]
	s.cost -= en.cost
	*en = lruEntry[V]{next: s.free} // drop references to key and value
	s.free = e
	s.count--
}

// unlink takes entry e out of its segment's list (segment counts are the
// caller's).
func (s *shard[V]) unlink(e int32) {
	en := &s.entries[e]
	head, tail := s.ends(en.seg)
	if en.prev >= 0 {
		s.entries[en.prev].next = en.next
	} else {
		*head = en.next
	}
	if en.next >= 0 {
		s.entries[en.next].prev = en.prev
	} else {
		*tail = en.prev
	}
}

// touch marks entry e used: the most recently used of its segment, or,
// from W-TinyLFU's probation, promoted to protected.
func (s *shard[V]) touch(e int32) {
	if s.entries[e].seg == segProbation {
		s.promote(e)
		return
	}
	s.moveToFront(e)
}

// moveToFront makes entry e the most recently used of its segment.
func (s *shard[V]) moveToFront(e int32) {
	en := &s.entries[e]
	head, tail := s.ends(en.seg)
	if *head == e {
		return
	}
	// e is not the head, so it has a prev; unlink it.
	s.entries[en.prev].next = en.next
	if en.next >= 0 {
		s.entries[en.next].prev = en.prev
	} else {
		*tail = en.prev
	}
	en.prev, en.next = -1, *head
	s.entries[*head].prev = e
	*head = e
}

// sweepStep looks at up to n entries from the sweep cursor on and drops
// those that expired: with one step per write, expired entries nobody asks
// for are reclaimed without a background goroutine.
func (s *shard[V]) sweepStep(now int64, n int) {
	m := len(s.entries)
	if m == 0 {
		return
	}
	for ; n > 0; n-- {
		if s.cursor >= m {
			s.cursor = 0
		}
		e := int32(s.cursor)
		s.cursor++
		if en := &s.entries[e]; en.live && en.expires <= now {
			s.expirations++
			s.remove(e, -1)
		}
	}
}

// reset drops every entry, keeping the allocated memory for reuse.
func (s *shard[V]) reset() {
	clear(s.index)
	clear(s.entries)
	s.entries = s.entries[:0]
	s.free, s.head, s.tail = -1, -1, -1
	s.count, s.cost, s.cursor = 0, 0, 0
	if s.wt != nil {
		s.wt.probation, s.wt.protected = segList{-1, -1}, segList{-1, -1}
		s.wt.n = [3]int{}
	}
}
