package cache

// sketch estimates how often keys were asked for recently, for TinyLFU
// admission (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache
// Admission Policy", 2017). It is a count-min sketch of four rows of
// saturating 4-bit counters, behind a doorkeeper: a Bloom filter that
// absorbs each key's first occurrence, so the many keys seen once never
// reach the counters. Every sampleSize additions all counters are halved
// and the doorkeeper cleared, so the estimates follow the recent past.
// It is not safe for concurrent use: each LRU shard owns one, under its
// lock.
type sketch struct {
	counters   []uint8 // 4 rows of width entries, row-major; values 0..15
	width      uint32  // a power of two
	door       []uint64
	doorMask   uint32 // bits in door - 1
	adds       int
	sampleSize int
}

// sampleFactor × capacity additions make one sample period. Longer periods
// estimate stable popularity better and adapt to shifts more slowly: under
// W-TinyLFU on a Zipf(1.01) trace (100k keys, capacity 10k), 32× gives a
// hit ratio of 0.7980, 96× 0.7990 (a perfect LFU that counts every
// request ever made gets 0.7997 there; measured before the victim sweep
// of coldestVictim, which adds 0.0008).
const sampleFactor = 96

// widthFactor × capacity (rounded up to a power of two) is the width of a
// row: 4× keeps collisions between the many rare keys from lifting their
// estimates to those of the keys at the edge of the cache (1× costs 0.004
// of hit ratio on that trace), for 16 to 32 bytes per entry of capacity.
const widthFactor = 4

func newSketch(capacity int) *sketch {
	w := uint32(16)
	for int(w) < widthFactor*capacity {
		w <<= 1
	}
	doorBits := uint32(64)
	for int(doorBits) < 64*capacity && doorBits < 1<<31 {
		doorBits <<= 1
	}
	return &sketch{
		counters:   make([]uint8, 4*int(w)),
		width:      w,
		door:       make([]uint64, doorBits/64),
		doorMask:   doorBits - 1,
		sampleSize: sampleFactor * max(capacity, 1),
	}
}

// spread derives two independent-looking 32-bit hashes from a key's hash;
// row i uses a + i·b (Kirsch and Mitzenmacher's double hashing).
func spread(h uint32) (a, b uint32) {
	x := uint64(h) + 0x9e3779b97f4a7c15 // splitmix64's finalizer
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return uint32(x), uint32(x>>32) | 1
}

func (s *sketch) inDoor(a, b uint32) bool {
	i, j := a&s.doorMask, (a+b)&s.doorMask
	return s.door[i/64]&(1<<(i%64)) != 0 && s.door[j/64]&(1<<(j%64)) != 0
}

// add records one occurrence of the key with hash h.
func (s *sketch) add(h uint32) {
	a, b := spread(h)
	if !s.inDoor(a, b) {
		i, j := a&s.doorMask, (a+b)&s.doorMask
		s.door[i/64] |= 1 << (i % 64)
		s.door[j/64] |= 1 << (j % 64)
	} else {
		// Conservative update: raise only the counters at the minimum, which
		// keeps over-estimates from collisions down.
		m := s.min(a, b)
		if m < 15 {
			for r := uint32(0); r < 4; r++ {
				if c := &s.counters[r*s.width+((a+r*b)&(s.width-1))]; *c == m {
					*c++
				}
			}
		}
	}
	if s.adds++; s.adds >= s.sampleSize {
		s.age()
	}
}

func (s *sketch) min(a, b uint32) uint8 {
	m := uint8(15)
	for r := uint32(0); r < 4; r++ {
		m = min(m, s.counters[r*s.width+((a+r*b)&(s.width-1))])
	}
	return m
}

// estimate returns how often the key with hash h occurred recently (0..16).
func (s *sketch) estimate(h uint32) int {
	a, b := spread(h)
	n := int(s.min(a, b))
	if s.inDoor(a, b) {
		n++
	}
	return n
}

// age halves every counter and clears the doorkeeper.
func (s *sketch) age() {
	for i := range s.counters {
		s.counters[i] >>= 1
	}
	clear(s.door)
	s.adds /= 2
}
