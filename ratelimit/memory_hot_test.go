package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The hot key's slot is only a hint: after growth, sweeps and backward
// shifts have moved it, lookups of the hot key and of every other key
// still find their own states.
func TestHotKeySurvivesMoves(t *testing.T) {
	s := &spec{alg: FixedWindow, rate: 1, periodUS: 1}
	tb := newTable[probeState](s, 0)
	now := int64(0)
	get := func(k string) *probeState {
		sh, st, err := tb.acquire(k, now)
		require.NoError(t, err)
		sh.mu.Unlock()
		return st
	}
	get("hot").id = -1
	for range hotAfter {
		get("hot")
	}
	hk := tb.hot.Load()
	require.NotNil(t, hk, "a key looked up %d times in a row becomes the hot key", hotAfter)
	require.Equal(t, "hot", hk.key)
	for round := range 5 {
		for i := range 3000 { // growth rehashes the hot key's shard
			k := fmt.Sprint("k", round, ":", i)
			get(k).id = int64(i)
			require.EqualValues(t, -1, get("hot").id)
		}
		for i := range 3000 { // deaths and sweeps shift and shrink it
			if i%3 != 0 {
				get(fmt.Sprint("k", round, ":", i)).dead = true
			}
		}
		now += tb.sweepEvery
		for i := range tb.shards {
			tb.sweep(&tb.shards[i], now)
		}
		require.EqualValues(t, -1, get("hot").id)
		for i := 0; i < 3000; i += 3 {
			require.EqualValues(t, i, get(fmt.Sprint("k", round, ":", i)).id)
		}
	}
	// The hot key dies and is swept: a lookup makes it anew, fresh.
	get("hot").dead = true
	now += tb.sweepEvery
	for i := range tb.shards {
		tb.sweep(&tb.shards[i], now)
	}
	require.Zero(t, get("hot").id)
}

// Varying keys never make a hot key, so the fast path costs them no
// allocation.
func TestHotKeyNeedsAStreak(t *testing.T) {
	m, err := NewMemory(TokenBucket, PerSecond(10))
	require.NoError(t, err)
	ctx := context.Background()
	for i := range 10_000 {
		_, err := m.Allow(ctx, fmt.Sprint("k", i%500))
		require.NoError(t, err)
	}
	require.Nil(t, m.buckets.hot.Load())
	allocs := testing.AllocsPerRun(1000, func() { _, _ = m.Allow(ctx, "k7") })
	require.Zero(t, allocs, "a tracked key, hot or about to be, decides without allocating")
	require.NotNil(t, m.buckets.hot.Load())
}

// Goroutines racing on a hot key and on other keys (which move it while
// its shard grows and is swept) admit exactly the burst of each key at one
// instant: the fast path neither loses nor double-spends a decision.
func TestHotKeyConcurrentExact(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const burst = 500
	m, err := NewMemory(TokenBucket, Limit{Rate: 1, Period: time.Hour, Burst: burst}, WithClock(clock))
	require.NoError(t, err)
	ctx := context.Background()
	for range 3 {
		const workers = 8
		var wg sync.WaitGroup
		allowed := make([]int, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 400 {
					d, err := m.Allow(ctx, "hot")
					if err == nil && d.Allowed {
						allowed[w]++
					}
					if i%4 == 0 {
						_, _ = m.Allow(ctx, fmt.Sprint("w", w, ":", i)) // grows the table
					}
				}
			}()
		}
		wg.Wait()
		total := 0
		for _, a := range allowed {
			total += a
		}
		require.Equal(t, burst, total, "workers admitted %v", allowed)
		st := m.Stats()
		require.NotZero(t, st.Allowed)
		mu.Lock()
		now = now.Add(burst * time.Hour) // every bucket refills; sweeps drop them
		mu.Unlock()
	}
}
