package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMemoryDropsIdleKeys(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			clk := newFakeClock()
			lim, err := NewMemory(alg, Limit{Rate: 5, Period: time.Second}, WithClock(clk.Now))
			require.NoError(t, err)
			ctx := context.Background()
			for i := 0; i < 2000; i++ {
				_, err := lim.Allow(ctx, fmt.Sprint("idle-", i))
				require.NoError(t, err)
			}
			require.Equal(t, 2000, lim.Keys())

			// One busy key, still limited after every sweep.
			d, err := lim.AllowN(ctx, "busy", 5)
			require.NoError(t, err)
			require.True(t, d.Allowed)

			// Past the time every idle key needs to go idle and past the
			// shard sweep interval, touching every shard drops them all.
			clk.Advance(2*time.Second + time.Minute)
			d, err = lim.AllowN(ctx, "busy", 5)
			require.NoError(t, err)
			require.True(t, d.Allowed)
			for i := 0; i < 1000; i++ {
				_, err := lim.Allow(ctx, fmt.Sprint("new-", i))
				require.NoError(t, err)
			}
			require.LessOrEqual(t, lim.Keys(), 1001, "idle keys were not dropped")
			d, err = lim.Allow(ctx, "busy")
			require.NoError(t, err)
			require.False(t, d.Allowed, "a sweep lost the state of a busy key")
		})
	}
}

func TestMemoryMaxKeys(t *testing.T) {
	for _, max := range []int{1, 10, 128, 1000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			clk := newFakeClock()
			lim, err := NewMemory(FixedWindow, PerSecond(1), WithClock(clk.Now), WithMaxKeys(max))
			require.NoError(t, err)
			ctx := context.Background()
			admitted := 0
			for i := 0; i < 3000; i++ {
				d, err := lim.Allow(ctx, fmt.Sprint("k", i))
				if err != nil {
					require.ErrorIs(t, err, ErrTooManyKeys)
					require.False(t, d.Allowed)
					continue
				}
				admitted++
			}
			require.Equal(t, max, admitted, "the cap is exact")
			require.Equal(t, max, lim.Keys())
			d, err := lim.Allow(ctx, "k0")
			require.NoError(t, err, "a tracked key is decided at the cap")
			require.False(t, d.Allowed)

			// Once the tracked keys are idle, sweeps make room again.
			clk.Advance(time.Minute + 2*time.Second)
			admitted = 0
			for i := 0; i < 3000; i++ {
				if _, err := lim.Allow(ctx, fmt.Sprint("later", i)); err == nil {
					admitted++
				}
			}
			require.Equal(t, max, admitted)
			require.Equal(t, max, lim.Keys())
		})
	}
}

func TestMemoryZeroAllocsOnExistingKey(t *testing.T) {
	for _, alg := range allAlgorithms {
		t.Run(alg.String(), func(t *testing.T) {
			clk := newFakeClock()
			lim, err := NewMemory(alg, Limit{Rate: 1000, Period: time.Second}, WithClock(clk.Now))
			require.NoError(t, err)
			ctx := context.Background()
			_, err = lim.Allow(ctx, "hot")
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(1000, func() {
				clk.Advance(time.Millisecond)
				_, _ = lim.Allow(ctx, "hot")
			})
			if alg == SlidingWindowLog {
				// its log grows and compacts in place: amortized, not zero
				require.Less(t, allocs, 0.1)
				return
			}
			require.Zero(t, allocs)
		})
	}
}

func TestMemoryRealClock(t *testing.T) {
	lim, err := NewMemory(TokenBucket, Limit{Rate: 1, Period: time.Hour, Burst: 2})
	require.NoError(t, err)
	ctx := context.Background()
	for i, want := range []bool{true, true, false} {
		d, err := lim.Allow(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, want, d.Allowed, "request %d", i)
	}
}
