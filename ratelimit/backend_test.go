package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
)

const ms = time.Millisecond

var allAlgorithms = []Algorithm{TokenBucket, LeakyBucket, FixedWindow, SlidingWindowLog, SlidingWindowCounter}

// limitFor gives each algorithm a limit small enough that random traffic
// hits it often.
func limitFor(alg Algorithm) Limit {
	if alg.bucket() {
		return Limit{Rate: 7, Period: 700 * ms, Burst: 5}
	}
	return Limit{Rate: 7, Period: 700 * ms}
}

// fakeClock is the tests' manual clock.
type fakeClock = clocktest.Clock

func newFakeClock() *fakeClock { return clocktest.New() }

// backend is one Limiter implementation together with a clock the test
// controls: a fake clock for memory, miniredis's server clock, or (on real
// servers, whose clock cannot be moved) a fake clock injected into the
// scripts in place of TIME.
type backend struct {
	name    string
	newFn   func(alg Algorithm, l Limit) (Limiter, error)
	now     func() time.Time
	advance func(time.Duration)
	tg      *redistest.Target // nil for memory
	start   time.Time
}

// forEachBackend runs fn once per backend: memory, then every configured
// Redis target. This is the conformance suite's entry point: a behaviour
// tested through it holds identically on all of them.
func forEachBackend(t *testing.T, fn func(t *testing.T, b *backend)) {
	t.Run("memory", func(t *testing.T) {
		clk := newFakeClock()
		fn(t, &backend{
			name: "memory",
			newFn: func(alg Algorithm, l Limit) (Limiter, error) {
				return NewMemory(alg, l, WithClock(clk.Now))
			},
			now: clk.Now, advance: clk.Advance, start: clk.Now(),
		})
	})
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		fn(t, redisBackend(tg))
	})
}

func redisBackend(tg *redistest.Target) *backend {
	b := &backend{name: string(tg.Kind), tg: tg}
	if tg.Mini != nil {
		b.now, b.advance = tg.Now, tg.Advance
		b.newFn = func(alg Algorithm, l Limit) (Limiter, error) {
			return NewRedis(tg.Client, alg, l, WithPrefix(tg.Prefix), WithTimeout(5*time.Second))
		}
	} else {
		clk := newFakeClock()
		b.now, b.advance = clk.Now, clk.Advance
		b.newFn = func(alg Algorithm, l Limit) (Limiter, error) {
			r, err := NewRedis(tg.Client, alg, l, WithPrefix(tg.Prefix), WithTimeout(5*time.Second))
			if err != nil {
				return nil, err
			}
			SetRedisClock(r, clk.Now)
			return r, nil
		}
	}
	b.start = b.now()
	return b
}

func (b *backend) limiter(t *testing.T, alg Algorithm, l Limit) Limiter {
	t.Helper()
	lim, err := b.newFn(alg, l)
	require.NoError(t, err)
	return lim
}

// alignTo moves the clock forward to the next multiple of p since the Unix
// epoch and makes that the test's time zero, so windows start at offset 0.
func (b *backend) alignTo(p time.Duration) {
	now := b.now()
	if rem := time.Duration(now.UnixNano() % int64(p)); rem != 0 {
		b.advance(p - rem)
	}
	b.start = b.now()
}
