package codes

import (
	"testing"
)

// FuzzGenerator checks, for any key and any two counter values, that codes
// are 7 Base62 characters, decode back to their counter value, and differ
// when the values differ.
func FuzzGenerator(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), uint64(0), uint64(1))
	f.Add([]byte("0123456789abcdef"), Space-1, Space-2)
	f.Add([]byte("a much longer key with spaces and ünïcode"), uint64(1<<41), uint64(12345))
	f.Fuzz(func(t *testing.T, key []byte, a, b uint64) {
		if len(key) < MinKeyLen {
			if _, err := New(key); err == nil {
				t.Fatalf("key of %d bytes accepted", len(key))
			}
			return
		}
		g, err := New(key)
		if err != nil {
			t.Fatal(err)
		}
		a, b = a%Space, b%Space
		ca := mustRoundTrip(t, g, a)
		cb := mustRoundTrip(t, g, b)
		if (a == b) != (ca == cb) {
			t.Fatalf("values %d, %d gave codes %q, %q", a, b, ca, cb)
		}
	})
}

func mustRoundTrip(t *testing.T, g *Generator, n uint64) string {
	t.Helper()
	code, err := g.Code(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(code) != Length || !IsCode(code) {
		t.Fatalf("code %q of %d is not %d Base62 characters", code, n, Length)
	}
	back, err := g.Index(code)
	if err != nil || back != n {
		t.Fatalf("Index(%q) = %d, %v; want %d", code, back, err, n)
	}
	return code
}

// FuzzDecode checks the parser: any string either is refused or re-encodes
// to itself.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"0000000", "ZZZZZZZ", "abc", "abcdefg", "abc{def", "\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Decode(s)
		if err != nil {
			return
		}
		back, err := Encode(n)
		if err != nil || back != s {
			t.Fatalf("Decode(%q) = %d, re-encoded %q, %v", s, n, back, err)
		}
	})
}
