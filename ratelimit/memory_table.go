package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// keyState is the per-key state of one algorithm.
type keyState[S any] interface {
	*S
	decide(s *spec, now, n int64) outcome
	idle(s *spec, now int64) bool
}

const numShards = 64 // a power of two; the top 6 bits of a key's hash pick it

// table maps keys to algorithm states. It is sharded, each shard with its
// own lock, so parallel callers on different keys rarely contend.
//
// Each shard is an open-addressing hash table with linear probing whose
// slots hold the key, a tag byte of its hash and the state, inline: a
// lookup usually touches one cache line (no pointer to chase, no separate
// tag array), and a key costs its slot (40 bytes for a token bucket)
// divided by the load factor. Capacities are not powers of two (the home
// slot is found by multiply-shift), so growing by 1.25× at 85% load keeps
// the load between 68% and 85%: a token bucket key costs 47–59 bytes
// beyond its string.
//
// States back to a fresh key's are swept out of a shard by the caller that
// finds the shard's sweep due: no background goroutine to leak.
type table[S any, P keyState[S]] struct {
	seed       maphash.Seed
	spec       *spec
	hot        atomic.Pointer[hotKey] // the key that recent decisions were for; nil at first
	shards     [numShards]shard[S]
	maxKeys    int64        // 0: unbounded
	keys       atomic.Int64 // across shards; kept only with maxKeys
	sweepEvery int64        // µs between sweeps of one shard
}

type shard[S any] struct {
	mu        sync.Mutex
	slots     []slot[S]
	count     int
	nextSweep int64
	// Stats: plain counts under mu, which every decision holds anyway (an
	// atomic add would be a second locked instruction per decision); Stats
	// reads them under mu too.
	allowed, denied uint64
	// The hash of the key this shard last looked up by probing, and how
	// many lookups in a row were for it (see hotKey).
	lastHash uint64
	streak   int
	_        [48]byte // 128 bytes in all: neighbouring shards never share a cache line
}

// tally counts one decision; the caller holds sh.mu.
func (sh *shard[S]) tally(allowed bool) {
	if allowed {
		sh.allowed++
	} else {
		sh.denied++
	}
}

// hotKey is the last-key fast path: a key that hotAfter lookups in a row
// on its shard were for, with its hash and slot. A call for it compares
// strings instead of hashing and probing; the slot is a hint, checked
// under the shard's lock, since sweeps and growth move keys. It is
// immutable, replaced whole, so installing one costs an allocation; the
// streak a key needs first keeps that to one per hotAfter decisions at
// worst, and to none when keys vary from call to call.
type hotKey struct {
	key  string
	hash uint64
	slot int
}

const hotAfter = 64

type slot[S any] struct {
	key string
	st  S
	tag uint8 // 0: empty; else 0x80 | 7 bits of the key's hash
}

const minSlots = 8

func newTable[S any, P keyState[S]](s *spec, maxKeys int) *table[S, P] {
	return &table[S, P]{seed: maphash.MakeSeed(), spec: s, sweepEvery: sweepInterval(s), maxKeys: int64(maxKeys)}
}

// sweepInterval is how long a key may take to become idle, clamped to
// [1s, 1min]: sweeping more often than a state can go idle finds nothing,
// less often than a minute lets dead keys pile up.
func sweepInterval(s *spec) int64 {
	d := 2 * s.periodUS
	if s.alg.bucket() {
		d = s.drainUS
	}
	return min(max(d, 1_000_000), 60_000_000)
}

func tagOf(h uint64) uint8 { return 0x80 | uint8(h>>51) }

// home is the slot a hash starts probing from: multiply-shift maps the low
// 32 bits uniformly onto [0, n) without a division.
func home(h uint64, n int) int { return int((h & 0xffffffff) * uint64(n) >> 32) }

// acquire returns key's state with its shard locked, creating the state if
// need be; the caller decides and then unlocks sh.mu. Keeping the decision
// out of this generic code lets each algorithm's decide be called directly
// and inlined, rather than through the generic dictionary.
func (t *table[S, P]) acquire(key string, now int64) (*shard[S], *S, error) {
	var h uint64
	hint := -1
	if hk := t.hot.Load(); hk != nil && hk.key == key {
		h, hint = hk.hash, hk.slot
	} else {
		h = maphash.String(t.seed, key)
	}
	sh := &t.shards[h>>58]
	sh.mu.Lock()
	if now >= sh.nextSweep {
		t.sweep(sh, now)
	}
	if hint >= 0 && hint < len(sh.slots) && sh.slots[hint].tag != 0 && sh.slots[hint].key == key {
		return sh, &sh.slots[hint].st, nil
	}
	tag := tagOf(h)
	i, found := sh.find(key, h, tag)
	if found {
		t.noteLookup(sh, key, h, i)
		return sh, &sh.slots[i].st, nil
	}
	if t.maxKeys > 0 {
		// At the cap, drop this shard's idle keys to make room; the other
		// shards' idle keys go at their own sweeps.
		if t.keys.Add(1) > t.maxKeys {
			t.sweep(sh, now)
			if t.keys.Load() > t.maxKeys {
				t.keys.Add(-1)
				sh.mu.Unlock()
				return nil, nil, ErrTooManyKeys
			}
		}
		i, _ = sh.find(key, h, tag)
	}
	if (sh.count+1)*20 > len(sh.slots)*17 { // above 85% load
		t.resize(sh, max(minSlots, len(sh.slots)*5/4))
		i, _ = sh.find(key, h, tag)
	}
	sh.slots[i].tag = tag
	sh.slots[i].key = key
	sh.count++
	return sh, &sh.slots[i].st, nil
}

// noteLookup counts lookups in a row for one key on sh and makes the key
// the hot one after hotAfter of them; sh.mu is held.
func (t *table[S, P]) noteLookup(sh *shard[S], key string, h uint64, i int) {
	if h != sh.lastHash {
		sh.lastHash, sh.streak = h, 1
		return
	}
	if sh.streak++; sh.streak == hotAfter {
		t.hot.Store(&hotKey{key: key, hash: h, slot: i})
		sh.streak = 0
	}
}

// find returns key's slot, or the empty slot where it would go. The table
// always has an empty slot, so probing ends.
func (sh *shard[S]) find(key string, h uint64, tag uint8) (int, bool) {
	n := len(sh.slots)
	if n == 0 {
		return 0, false
	}
	for i := home(h, n); ; {
		switch sh.slots[i].tag {
		case 0:
			return i, false
		case tag:
			if sh.slots[i].key == key {
				return i, true
			}
		}
		if i++; i == n {
			i = 0
		}
	}
}

// resize rehashes the shard into n slots.
func (t *table[S, P]) resize(sh *shard[S], n int) {
	old := sh.slots
	sh.slots = make([]slot[S], n)
	for j := range old {
		if old[j].tag == 0 {
			continue
		}
		i, _ := sh.find(old[j].key, maphash.String(t.seed, old[j].key), old[j].tag)
		sh.slots[i] = old[j]
	}
}

// sweep drops the shard's idle states, and shrinks a shard that a burst of
// keys left mostly empty; the caller holds the lock.
func (t *table[S, P]) sweep(sh *shard[S], now int64) {
	sh.nextSweep = now + t.sweepEvery
	for i := 0; i < len(sh.slots); {
		if sh.slots[i].tag != 0 && P(&sh.slots[i].st).idle(t.spec, now) {
			t.deleteAt(sh, i) // refills slot i: look at it again
			continue
		}
		i++
	}
	switch {
	case sh.count == 0:
		sh.slots = nil
	case len(sh.slots) > minSlots && sh.count*4 < len(sh.slots):
		t.resize(sh, max(minSlots, sh.count*3/2))
	}
}

// deleteAt empties slot i by backward-shift deletion: later entries of the
// probe chain move up, so lookups need no tombstones.
func (t *table[S, P]) deleteAt(sh *shard[S], i int) {
	n := len(sh.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		if sh.slots[j].tag == 0 {
			break
		}
		// The entry at j may fill the hole at i unless its home lies
		// cyclically in (i, j]: then it must stay at or after its home.
		k := home(maphash.String(t.seed, sh.slots[j].key), n)
		if (i <= j && i < k && k <= j) || (i > j && (k > i || k <= j)) {
			continue
		}
		sh.slots[i] = sh.slots[j]
		i = j
	}
	sh.slots[i] = slot[S]{}
	sh.count--
	if t.maxKeys > 0 {
		t.keys.Add(-1)
	}
}

// counts sums the shards' tallies and keys, each shard under its lock in
// turn.
func (t *table[S, P]) counts() (allowed, denied uint64, keys int) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		allowed += sh.allowed
		denied += sh.denied
		keys += sh.count
		sh.mu.Unlock()
	}
	return allowed, denied, keys
}

// lookup returns key's state with its shard locked, or a nil state (the
// shard still locked) if key is not tracked; it never adds a key. The
// caller unlocks sh.mu.
func (t *table[S, P]) lookup(key string) (*shard[S], *S) {
	h := maphash.String(t.seed, key)
	sh := &t.shards[h>>58]
	sh.mu.Lock()
	if i, found := sh.find(key, h, tagOf(h)); found {
		return sh, &sh.slots[i].st
	}
	return sh, nil
}

func (t *table[S, P]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += sh.count
		sh.mu.Unlock()
	}
	return n
}
