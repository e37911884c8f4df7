package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// detachedTiered returns a Tiered on the private server s whose local
// tier runs on clk, subscribed.
func detachedTiered(t *testing.T, s *redistest.Server, clk *fakeClock, prefix string, opts ...TieredOption) *Tiered[string] {
	t.Helper()
	c, _ := s.Client()
	remote, err := NewRedis[string](c, WithPrefix(prefix), WithTimeout(100*time.Millisecond))
	require.NoError(t, err)
	tc, err := NewTiered(mustLRU[string](t, 100, WithClock(clk.Now)), remote, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tc.Close() })
	require.Eventually(t, tc.live.Load, waitFor, tick, "subscribed")
	return tc
}

// TestTieredServeStaleWhileDetached: with the option, a Tiered that lost
// its subscription (the server killed, or frozen) keeps serving its local
// entries for maxAge on its clock, not after, and flushes them when it
// re-attaches; without it, the local tier is flushed on the loss.
func TestTieredServeStaleWhileDetached(t *testing.T) {
	shortHealth(t)
	const maxAge = 30 * time.Second
	s := redistest.StartServer(t)
	clk := newFakeClock()
	stale := detachedTiered(t, s, clk, "stale:", WithServeStaleWhileDetached(maxAge))
	plain := detachedTiered(t, s, clk, "plain:")
	require.NoError(t, stale.Set(bg, "k", "v1", time.Hour))
	require.NoError(t, plain.Set(bg, "k", "v1", time.Hour))
	require.True(t, localHas(stale, "k") && localHas(plain, "k"))

	// Killed: served within maxAge, the default flushes.
	s.Kill()
	require.Eventually(t, func() bool { return !stale.live.Load() && !plain.live.Load() }, waitFor, tick, "detached")
	assert.Eventually(t, func() bool { return !localHas(plain, "k") }, waitFor, tick, "default: flushed on loss")
	clk.Advance(maxAge - time.Second)
	v, ok, err := stale.Get(bg, "k")
	require.NoError(t, err)
	require.True(t, ok, "served while detached, within maxAge")
	assert.Equal(t, "v1", v)
	assert.Equal(t, uint64(1), stale.Stats().StaleHits)
	_, _, err = stale.Get(bg, "absent")
	require.Error(t, err, "what is not local still goes to Redis")

	// Back: flushed at once, since what was invalidated meanwhile is unknown.
	s.Restart()
	require.Eventually(t, stale.live.Load, waitFor, tick, "re-attached")
	assert.False(t, localHas(stale, "k"), "flushed on rejoin")

	// Frozen: served until maxAge has passed, then flushed and not served.
	require.NoError(t, stale.Set(bg, "k", "v2", time.Hour))
	require.True(t, localHas(stale, "k"))
	s.Freeze()
	defer s.Thaw()
	require.Eventually(t, func() bool { return !stale.live.Load() }, waitFor, tick, "detached")
	clk.Advance(maxAge / 2)
	v, ok, err = stale.Get(bg, "k")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "v2", v)
	clk.Advance(maxAge / 2)
	_, _, _ = stale.Get(bg, "k") // a read of the frozen Redis, whatever it gives
	assert.Equal(t, uint64(2), stale.Stats().StaleHits, "past maxAge: not served locally")
	assert.False(t, localHas(stale, "k"), "flushed past maxAge")
}

// TestTieredDetachedWriteDropsLocalCopy: while detached, a Set through the
// Tiered drops its own local copy rather than leave it serving the old
// value.
func TestTieredDetachedWriteDropsLocalCopy(t *testing.T) {
	shortHealth(t)
	s := redistest.StartServer(t)
	clk := newFakeClock()
	tc := detachedTiered(t, s, clk, "w:", WithServeStaleWhileDetached(time.Minute))
	require.NoError(t, tc.Set(bg, "k", "v1", time.Hour))
	s.Kill()
	require.Eventually(t, func() bool { return !tc.live.Load() }, waitFor, tick, "detached")
	require.True(t, localHas(tc, "k"))
	require.Error(t, tc.Set(bg, "k", "v2", time.Hour))
	assert.False(t, localHas(tc, "k"), "a failed write drops the copy")
	s.Restart()
	require.Eventually(t, tc.live.Load, waitFor, tick, "re-attached")
}

func TestServeStaleWhileDetachedConfig(t *testing.T) {
	lru := mustLRU[string](t, 10)
	remote := mustRedis[string](t, redistest.New(t, redistest.Mini))
	for _, d := range []time.Duration{0, -time.Second} {
		_, err := NewTiered(lru, remote, WithServeStaleWhileDetached(d))
		require.ErrorIs(t, err, ErrInvalidConfig, d)
	}
}
