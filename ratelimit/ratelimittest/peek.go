package ratelimittest

import (
	"context"
	"math/rand"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/ratelimit"
)

// peekSpendsNothing: under random traffic, Peek predicts what Allow
// decides at the same instant (Allowed, RetryAfter), reports the quota
// left before it and, right after a decision, the Remaining and
// ResetAfter that decision reported; and it never spends: peeking twice in
// a row reads the same. A fresh key peeks as full.
func peekSpendsNothing(t *testing.T, f Features, b Backend) {
	needClock(t, b)
	eachAlgorithm(t, f, func(t *testing.T, alg ratelimit.Algorithm) {
		r := newRun(t, b)
		l := limitFor(alg)
		lim := r.limiter(alg, l)
		p, ok := lim.(ratelimit.Peeker)
		if !ok {
			t.Skipf("ratelimittest: %T does not implement ratelimit.Peeker", lim)
		}
		ctx := context.Background()
		fresh, err := p.Peek(ctx, "fresh")
		require.NoError(t, err)
		full := l.Rate
		if alg == ratelimit.TokenBucket || alg == ratelimit.LeakyBucket {
			full = l.Burst
		}
		require.Equal(t, ratelimit.Decision{Allowed: true, Limit: fresh.Limit, Remaining: full}, fresh, "a fresh key")

		rng := rand.New(rand.NewSource(int64(alg) + 100))
		denials := 0
		for i := 0; i < 150; i++ {
			r.advance(time.Duration(rng.Intn(120_000)) * time.Microsecond)
			before, err := p.Peek(ctx, "k")
			require.NoError(t, err)
			again, err := p.Peek(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, before, again, "step %d: a peek spent something", i)
			require.Zero(t, before.Delay, "step %d: a peek's Delay", i)

			n := 1
			if rng.Intn(3) == 0 {
				n = 1 + rng.Intn(3)
			}
			d, err := lim.AllowN(ctx, "k", n)
			require.NoError(t, err)
			if n == 1 {
				require.Equal(t, d.Allowed, before.Allowed, "step %d: Peek predicted wrong", i)
				require.Equal(t, d.RetryAfter, before.RetryAfter, "step %d: RetryAfter", i)
			}
			if !d.Allowed {
				denials++
				require.Equal(t, d.Remaining, before.Remaining, "step %d: Remaining of a denial", i)
				require.Equal(t, d.ResetAfter, before.ResetAfter, "step %d: ResetAfter of a denial", i)
			} else if alg != ratelimit.SlidingWindowCounter {
				// The counter's Remaining rounds its weighted part up, so n
				// more units need not show as exactly n less.
				require.Equal(t, d.Remaining+n, before.Remaining, "step %d: Remaining before n=%d", i, n)
			}
			after, err := p.Peek(ctx, "k")
			require.NoError(t, err)
			require.Equal(t, d.Remaining, after.Remaining, "step %d: Remaining after", i)
			require.Equal(t, d.ResetAfter, after.ResetAfter, "step %d: ResetAfter after", i)
			require.Equal(t, d.Limit, after.Limit)
		}
		require.Greater(t, denials, 10, "traffic too light to exercise denials")
	})
}
