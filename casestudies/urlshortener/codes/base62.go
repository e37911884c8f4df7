package codes

import (
	"errors"
	"fmt"
)

// Alphabet is the Base62 alphabet codes are written in: digits, then lower
// case, then upper case letters.
const Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// Length is the number of characters of every code.
const Length = 7

// Space is the number of distinct codes: 62^Length.
const Space uint64 = 62 * 62 * 62 * 62 * 62 * 62 * 62

// ErrInvalidCode is returned for a string that is not a code: not Length
// characters, or a character outside Alphabet.
var ErrInvalidCode = errors.New("codes: invalid code")

// ErrOutOfRange is returned for a counter value at or beyond Space: the code
// space is exhausted.
var ErrOutOfRange = errors.New("codes: counter out of range")

// decodeTable maps a byte to its digit value, or -1.
var decodeTable = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = int8(i)
	}
	return t
}()

// Encode writes n (below Space) as exactly Length Base62 characters,
// left-padded with '0'.
func Encode(n uint64) (string, error) {
	if n >= Space {
		return "", fmt.Errorf("%w: %d ≥ 62^%d", ErrOutOfRange, n, Length)
	}
	var b [Length]byte
	for i := Length - 1; i >= 0; i-- {
		b[i] = Alphabet[n%62]
		n /= 62
	}
	return string(b[:]), nil
}

// Decode reads a code written by Encode.
func Decode(s string) (uint64, error) {
	if len(s) != Length {
		return 0, fmt.Errorf("%w: %q is not %d characters", ErrInvalidCode, s, Length)
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := decodeTable[s[i]]
		if d < 0 {
			return 0, fmt.Errorf("%w: %q holds a character outside Base62", ErrInvalidCode, s)
		}
		n = n*62 + uint64(d)
	}
	return n, nil
}

// IsCode reports whether s has the shape of a code (Length Base62 characters).
func IsCode(s string) bool {
	_, err := Decode(s)
	return err == nil
}
