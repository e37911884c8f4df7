package codes

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var testKey = []byte("0123456789abcdef-test-key")

func TestEncodeDecode(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		code string
	}{
		{0, "0000000"}, {1, "0000001"}, {61, "000000Z"}, {62, "0000010"}, {Space - 1, "ZZZZZZZ"},
	} {
		got, err := Encode(tc.n)
		require.NoError(t, err)
		require.Equal(t, tc.code, got)
		back, err := Decode(tc.code)
		require.NoError(t, err)
		require.Equal(t, tc.n, back)
	}
	_, err := Encode(Space)
	require.ErrorIs(t, err, ErrOutOfRange)
	for _, bad := range []string{"", "000000", "00000000", "abc-def", "abcdéf", "ABCDEF{"} {
		_, err := Decode(bad)
		require.ErrorIs(t, err, ErrInvalidCode, "%q", bad)
		require.False(t, IsCode(bad))
	}
}

func TestNewRefusesShortKey(t *testing.T) {
	_, err := New([]byte("short"))
	require.ErrorIs(t, err, ErrInvalidConfig)
	_, err = New(nil)
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestGeneratorIsABijectionOnAPrefixOfTheCounter(t *testing.T) {
	g, err := New(testKey)
	require.NoError(t, err)
	seen := make(map[string]uint64, 50_000)
	for n := uint64(0); n < 50_000; n++ {
		code, err := g.Code(n)
		require.NoError(t, err)
		require.Len(t, code, Length)
		if prev, dup := seen[code]; dup {
			t.Fatalf("counter %d and %d share code %q", prev, n, code)
		}
		seen[code] = n
		back, err := g.Index(code)
		require.NoError(t, err)
		require.Equal(t, n, back)
	}
}

func TestGeneratorCodesDoNotRevealTheCounter(t *testing.T) {
	g, err := New(testKey)
	require.NoError(t, err)
	// Consecutive counter values must not give neighbouring codes: if they
	// did, the next link would be one guess away from the last.
	near := 0
	prev, _ := g.Code(1000)
	for n := uint64(1001); n < 2000; n++ {
		code, err := g.Code(n)
		require.NoError(t, err)
		a, _ := Decode(prev)
		b, _ := Decode(code)
		if diff := int64(a) - int64(b); diff > -1_000_000 && diff < 1_000_000 {
			near++
		}
		prev = code
	}
	require.Less(t, near, 5, "consecutive codes land close together far too often")

	other, err := New([]byte("another key, also 16+ bytes"))
	require.NoError(t, err)
	same := 0
	for n := uint64(0); n < 1000; n++ {
		a, _ := g.Code(n)
		b, _ := other.Code(n)
		if a == b {
			same++
		}
	}
	require.Less(t, same, 2, "two keys must give unrelated codes")
}

func TestGeneratorEdges(t *testing.T) {
	g, err := New(testKey)
	require.NoError(t, err)
	for _, n := range []uint64{0, Space - 1, Space / 2} {
		code, err := g.Code(n)
		require.NoError(t, err)
		back, err := g.Index(code)
		require.NoError(t, err)
		require.Equal(t, n, back)
	}
	_, err = g.Code(Space)
	require.True(t, errors.Is(err, ErrOutOfRange))
	_, err = g.Index("bad")
	require.ErrorIs(t, err, ErrInvalidCode)
}

func TestSequential(t *testing.T) {
	g := NewSequential()
	require.True(t, g.Sequential())
	code, err := g.Code(125)
	require.NoError(t, err)
	require.Equal(t, "0000021", code)
	n, err := g.Index("0000021")
	require.NoError(t, err)
	require.Equal(t, uint64(125), n)
	require.True(t, strings.HasPrefix(code, "00000"), "sequential codes are the plain counter")
}
