package ratelimit

import (
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// quo must be exact division over the whole range the buckets use, where
// a float64 estimate alone is off by one near multiples of d.
func TestQuoIsExactDivision(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	check := func(a, d int64) {
		require.Equal(t, a/d, quo(a, d, 1/float64(d)), "%d/%d", a, d)
	}
	for _, d := range []int64{1, 2, 3, 7, 10, 1000, 999_983, 1_000_000, 1 << 30, maxExact - 1} {
		for _, a := range []int64{0, 1, d - 1, d, d + 1, maxExact - 1, maxExact - d, (maxExact - 1) / d * d} {
			if a >= 0 && a < maxExact {
				check(a, d)
			}
		}
	}
	for range 200_000 {
		d := 1 + rng.Int63n(1<<uint(1+rng.Intn(52)))
		a := rng.Int63n(maxExact)
		if rng.Intn(4) == 0 {
			a = a / d * d // an exact multiple, and its neighbours
			a += int64(rng.Intn(3)) - 1
			if a < 0 {
				a = 0
			}
		}
		check(a, d)
	}
}

// decideBucket is decide followed by spec.decision, fused: on random
// limits, request sizes and clock moves (backwards too), both give the
// same Decisions and leave the same state.
func TestDecideBucketMatchesDecide(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for round := range 300 {
		alg := TokenBucket
		if round%2 == 1 {
			alg = LeakyBucket
		}
		l := Limit{Rate: 1 + rng.Intn(1000), Period: time.Duration(1+rng.Intn(5_000_000)) * time.Microsecond, Burst: rng.Intn(50)}
		m, err := NewMemory(alg, l)
		require.NoError(t, err)
		s := &m.spec
		var fused, plain bucketState
		now := rng.Int63n(1 << 40)
		for range 200 {
			switch rng.Intn(5) {
			case 0:
				now -= rng.Int63n(s.periodUS + 1)
			case 1:
				now += rng.Int63n(s.drainUS + 2)
			default:
				now += rng.Int63n(s.periodUS/max(s.rate, 1) + 2)
			}
			n := 1 + rng.Int63n(s.burst)
			want := s.decision(plain.decide(s, now, n))
			got := m.decideBucket(&fused, now, n)
			require.Equal(t, want, got, "limit %s, n %d", l, n)
			require.Equal(t, plain, fused)
		}
	}
}
