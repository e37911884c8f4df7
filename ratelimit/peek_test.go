package ratelimit

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func peeker(t *testing.T, l Limiter) Peeker {
	t.Helper()
	p, ok := l.(Peeker)
	require.True(t, ok, "%T is not a Peeker", l)
	return p
}

// TestPeekFreshKey: an unknown key reads as fresh (all of Burst or Rate
// left, nothing to reset), and peeking leaves it unknown: a memory limiter
// tracks no key for it, even at its WithMaxKeys cap.
func TestPeekFreshKey(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				l := limitFor(alg)
				lim := b.limiter(t, alg, l)
				d, err := peeker(t, lim).Peek(context.Background(), "fresh")
				require.NoError(t, err)
				want := l.Rate
				if alg.bucket() {
					want = l.Burst
				}
				require.Equal(t, Decision{Allowed: true, Limit: d.Limit, Remaining: want}, d)
				if m, ok := lim.(*Memory); ok {
					require.Zero(t, m.Keys(), "a peek made the limiter track a key")
				}
			})
		}
	})
	m, err := NewMemory(TokenBucket, PerMinute(1), WithMaxKeys(1))
	require.NoError(t, err)
	_, err = m.Allow(context.Background(), "a")
	require.NoError(t, err)
	d, err := m.Peek(context.Background(), "b")
	require.NoError(t, err, "peeking at a full table refuses nothing")
	require.True(t, d.Allowed)
}

// TestPeekDeniedRetryAfter: an exhausted key peeks as denied, with the
// RetryAfter after which Allow succeeds.
func TestPeekDeniedRetryAfter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				l := Limit{Rate: 2, Period: time.Second}
				lim := b.limiter(t, alg, l)
				b.alignTo(time.Second)
				ctx := context.Background()
				_, err := lim.AllowN(ctx, "k", 2)
				require.NoError(t, err)
				b.advance(250 * ms)
				d, err := peeker(t, lim).Peek(ctx, "k")
				require.NoError(t, err)
				require.False(t, d.Allowed)
				require.Zero(t, d.Remaining)
				require.Positive(t, d.RetryAfter)
				b.advance(d.RetryAfter)
				a, err := lim.Allow(ctx, "k")
				require.NoError(t, err)
				require.True(t, a.Allowed, "denied after the RetryAfter Peek gave")
			})
		}
	})
}

// TestPeekConcurrentWithAllow: peeks racing with decisions on one key
// spend nothing and never read a torn state: exactly the limit is
// admitted, and no peek reports more left than the limit or less than 0.
func TestPeekConcurrentWithAllow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		for _, alg := range allAlgorithms {
			t.Run(alg.String(), func(t *testing.T) {
				l := Limit{Rate: 50, Period: time.Hour}
				lim := b.limiter(t, alg, l)
				b.alignTo(time.Hour)
				p := peeker(t, lim)
				var allowed atomic.Int64
				var wg sync.WaitGroup
				for g := 0; g < 8; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 10; i++ {
							pd, err := p.Peek(context.Background(), "hot")
							if !assert.NoError(t, err) {
								return
							}
							assert.True(t, pd.Remaining >= 0 && pd.Remaining <= l.Rate, "peeked %d left", pd.Remaining)
							d, err := lim.Allow(context.Background(), "hot")
							if !assert.NoError(t, err) {
								return
							}
							if d.Allowed {
								allowed.Add(1)
							}
						}
					}()
				}
				wg.Wait()
				require.EqualValues(t, l.Rate, allowed.Load())
				d, err := p.Peek(context.Background(), "hot")
				require.NoError(t, err)
				require.Zero(t, d.Remaining)
				require.False(t, d.Allowed)
			})
		}
	})
}
