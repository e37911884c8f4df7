package cache

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

func TestCoarseClock(t *testing.T) {
	c := newCoarseClock(time.Now())
	assert.Negative(t, c.now.Load(), "nothing armed before the first read")
	first := c.read()
	assert.GreaterOrEqual(t, first, int64(0))
	// The reading is served until it goes stale; once nobody reads, the
	// timer is not armed again: an idle clock wakes nothing.
	require.Eventually(t, func() bool { return c.now.Load() < 0 }, waitFor, tick)
	time.Sleep(5 * coarseTick)
	assert.Negative(t, c.now.Load(), "stays stale while idle")
	second := c.read()
	assert.GreaterOrEqual(t, second-first, int64(coarseTick), "a fresh reading after the tick")

	c.close()
	assert.Negative(t, c.now.Load())
	before := time.Duration(c.read())
	time.Sleep(2 * time.Millisecond)
	after := time.Duration(c.read())
	assert.GreaterOrEqual(t, after-before, 2*time.Millisecond, "after close every read reads the clock")
	assert.Negative(t, c.now.Load(), "and arms nothing")
	c.close() // idempotent
}

// ourGoroutines returns the stacks of goroutines running Tiered or
// coarseClock code.
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var ours []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "cache.(*Tiered[") || strings.Contains(g, "cache.(*coarseClock)") ||
			strings.Contains(g, "redisx.(*Listener).loop") { // Tiered's subscription
			ours = append(ours, g)
		}
	}
	return ours
}

// TestTieredClockIdlesAndStops: a Tiered keeps its local tier's clock
// reading only while the tier is read, and after Close no goroutine of its
// own is left.
func TestTieredClockIdlesAndStops(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	local := mustLRU[string](t, 10)
	remote := mustRedis[string](t, tg)
	c, err := NewTiered(local, remote)
	require.NoError(t, err)
	require.Eventually(t, c.live.Load, waitFor, tick)
	require.NotNil(t, c.clock)
	assert.Same(t, c.clock, local.coarse.Load(), "the local tier reads the coarse clock")

	require.NoError(t, c.Set(bg, "k", "v", time.Hour))
	for range 1000 {
		_, ok := get[string](t, c, "k")
		require.True(t, ok)
	}
	assert.Equal(t, uint64(1000), c.Stats().LocalHits)
	// Idle: the reading goes stale and no timer is armed again.
	require.Eventually(t, func() bool { return c.clock.now.Load() < 0 }, waitFor, tick)

	// A second Tiered over the same LRU leaves its clock to the first.
	other, err := NewTiered(local, mustRedis[string](t, tg, WithPrefix(tg.Prefix+"other:")))
	require.NoError(t, err)
	assert.Nil(t, other.clock)
	require.NoError(t, other.Close())
	assert.Same(t, c.clock, local.coarse.Load())

	_, _ = get[string](t, c, "k") // arms the timer
	require.NotEmpty(t, ourGoroutines(), "listen runs until Close")
	require.NoError(t, c.Close())
	assert.Nil(t, local.coarse.Load(), "the LRU reads the real clock again")
	assert.Negative(t, c.clock.now.Load())
	require.Eventually(t, func() bool { return len(ourGoroutines()) == 0 }, waitFor, tick,
		"goroutines left after Close: %v", ourGoroutines())

	// The LRU, used alone after Close, still expires entries on time.
	require.NoError(t, local.Set(bg, "short", "s", time.Millisecond))
	time.Sleep(2 * time.Millisecond)
	_, ok, _ := local.Get(bg, "short")
	assert.False(t, ok)
}
