package breaker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/breaker/breakertest"
	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
)

var errBoom = errors.New("boom")

func newMemory(t *testing.T, cfg breaker.Config) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(cfg)
	require.NoError(t, err)
	return b
}

// newOnRedis makes breakers on a RedisStore of tg whose scripts take their
// time from the breaker's manual clock, so the exact-time suite runs on
// real servers too. Each case gets a prefix of its own, and a store
// timeout long enough that a loaded machine's slow answer does not detach
// a breaker mid-suite (bounds are the fault and hang tests' business).
func newOnRedis(tg *redistest.Target) breakertest.Factory {
	return func(t *testing.T, cfg breaker.Config) *breaker.Breaker {
		t.Helper()
		st, err := breaker.NewRedisStore(tg.Client, breaker.WithPrefix(tg.Prefix+t.Name()+":"), breaker.WithTimeout(5*time.Second))
		require.NoError(t, err)
		breaker.SetStoreClock(st, cfg.Clock)
		t.Cleanup(func() { _ = st.Close() })
		if cfg.Name == "" {
			cfg.Name = "dep"
		}
		cfg.Store = st
		b, err := breaker.New(cfg)
		require.NoError(t, err)
		return b
	}
}

// TestConformanceMemory runs the breakertest suite on breakers of their
// own (no Store).
func TestConformanceMemory(t *testing.T) {
	breakertest.TestBreaker(t, breakertest.Features{}, newMemory)
}

// TestConformanceRedis runs it on breakers sharing a RedisStore, on every
// configured target, so the two cannot drift apart.
func TestConformanceRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		breakertest.TestBreaker(t, breakertest.Features{}, newOnRedis(tg))
	})
}

// TestConcurrentUse hammers one breaker from many goroutines through every
// state, for the race detector and the invariants.
func TestConcurrentUse(t *testing.T) {
	clk := clocktest.New()
	b, err := breaker.New(breaker.Config{Clock: clk.Now, FailureThreshold: 3, OpenTimeout: time.Millisecond, HalfOpenMaxCalls: 2,
		FailureRateThreshold: 0.5, WindowSize: 20})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var calls, refused sync.Map
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				err := b.Execute(context.Background(), func(context.Context) error {
					if (i/40+g)%3 != 0 {
						return errBoom
					}
					return nil
				})
				if errors.Is(err, breaker.ErrOpen) || errors.Is(err, breaker.ErrTooManyCalls) {
					refused.Store(g*10000+i, true)
				} else {
					calls.Store(g*10000+i, true)
				}
				if i%50 == 0 {
					clk.Advance(time.Millisecond)
					_ = b.Metrics()
				}
			}
		}()
	}
	wg.Wait()
	m := b.Metrics()
	n := func(m *sync.Map) (c uint64) { m.Range(func(any, any) bool { c++; return true }); return c }
	require.Equal(t, n(&calls), m.Calls)
	require.Equal(t, n(&refused), m.Rejections)
	require.Equal(t, uint64(16000), m.Calls+m.Rejections)
	require.Positive(t, m.Transitions)
}
