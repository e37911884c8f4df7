package codes

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// MinKeyLen is the shortest key New accepts: 16 bytes (128 bits).
const MinKeyLen = 16

// Rounds is the number of Feistel rounds. Each round's function is
// HMAC-SHA256 of the key, so a handful suffices for a pseudorandom
// permutation (Luby–Rackoff: four); eight leaves a margin.
const Rounds = 8

// halfBits is the width of each Feistel half: 2×21 = 42 bits, the smallest
// even width covering 62^7 ≈ 2^41.7. Cycle-walking then needs 2^42/62^7 ≈
// 1.25 passes on average.
const halfBits = 21

const halfMask = 1<<halfBits - 1

// ErrInvalidConfig is returned by New for an unusable key.
var ErrInvalidConfig = errors.New("codes: invalid config")

// Generator maps counter values to codes and back. It is safe for
// concurrent use.
type Generator struct {
	sequential bool
	macs       sync.Pool // of hash.Hash keyed with the key
}

// New returns a Generator whose codes are a keyed permutation of the
// counter. Anyone who knows key can enumerate the codes: keep it secret,
// and keep it the same for as long as codes made with it exist, since a
// different key maps counter values to different codes (which may then
// collide with codes made before).
func New(key []byte) (*Generator, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("%w: key of %d bytes; at least %d", ErrInvalidConfig, len(key), MinKeyLen)
	}
	k := append([]byte(nil), key...)
	g := &Generator{}
	g.macs.New = func() any { return hmac.New(sha256.New, k) }
	return g, nil
}

// NewSequential returns a Generator whose codes are the counter itself in
// Base62 ("0000001", "0000002", …): easy to read, and easy to enumerate.
// For teaching and tests.
func NewSequential() *Generator { return &Generator{sequential: true} }

// Sequential reports whether g writes plain counter values.
func (g *Generator) Sequential() bool { return g.sequential }

// Code returns the code of counter value n, which must be below Space.
// Distinct values always give distinct codes.
func (g *Generator) Code(n uint64) (string, error) {
	if n >= Space {
		return "", fmt.Errorf("%w: %d ≥ 62^%d", ErrOutOfRange, n, Length)
	}
	if g.sequential {
		return Encode(n)
	}
	return Encode(g.walk(n, g.encrypt))
}

// Index returns the counter value whose code is code: the inverse of Code.
func (g *Generator) Index(code string) (uint64, error) {
	n, err := Decode(code)
	if err != nil || g.sequential {
		return n, err
	}
	return g.walk(n, g.decrypt), nil
}

// walk applies the 42-bit permutation until the value falls inside [0,
// Space) again (cycle-walking). Starting inside the range, this is a
// permutation of the range: it ends because the cycle through n returns to
// n, which is inside.
func (g *Generator) walk(n uint64, step func(h hash.Hash, x uint64) uint64) uint64 {
	h := g.macs.Get().(hash.Hash)
	defer g.macs.Put(h)
	for {
		n = step(h, n)
		if n < Space {
			return n
		}
	}
}

func (g *Generator) encrypt(h hash.Hash, x uint64) uint64 {
	l, r := x>>halfBits, x&halfMask
	for i := 0; i < Rounds; i++ {
		l, r = r, l^round(h, i, r)
	}
	return l<<halfBits | r
}

func (g *Generator) decrypt(h hash.Hash, x uint64) uint64 {
	l, r := x>>halfBits, x&halfMask
	for i := Rounds - 1; i >= 0; i-- {
		l, r = r^round(h, i, l), l
	}
	return l<<halfBits | r
}

// round is the Feistel round function: the low 21 bits of
// HMAC-SHA256(key, round ‖ x).
func round(h hash.Hash, i int, x uint64) uint64 {
	var in [9]byte
	in[0] = byte(i)
	binary.BigEndian.PutUint64(in[1:], x)
	h.Reset()
	h.Write(in[:])
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0])) & halfMask
}
