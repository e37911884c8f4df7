package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// twoTiered returns two Tiered instances ("processes", each with its own
// client and faults) sharing one Redis prefix, and their local clock.
func twoTiered(t *testing.T, tg *redistest.Target, opts ...TieredOption) (a, b *Tiered[string], fa, fb *redistest.Faults, clk *fakeClock) {
	t.Helper()
	prefix := uniquePrefix(tg)
	if tg.Mini != nil {
		clk = newFakeClock()
	}
	ca, fa := tg.NewClient()
	cb, fb := tg.NewClient()
	return mustTiered(t, tg, ca, clk, prefix, opts...), mustTiered(t, tg, cb, clk, prefix, opts...), fa, fb, clk
}

// setAndSync sets key on a and waits until b has applied a's message, so
// that b's next read cannot race it.
func setAndSync(t *testing.T, a, b *Tiered[string], key, v string, ttl time.Duration) {
	t.Helper()
	before := b.Stats().Invalidations
	require.NoError(t, a.Set(bg, key, v, ttl))
	require.Eventually(t, func() bool { return b.Stats().Invalidations > before }, waitFor, tick)
}

func localHas(c *Tiered[string], key string) bool {
	_, ok, _ := c.local.Get(bg, key)
	return ok
}

func TestTieredLocalHitAndFill(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		a, b, _, _, _ := twoTiered(t, tg)
		setAndSync(t, a, b, "k", "v1", time.Hour)
		assert.True(t, localHas(a, "k"), "the writer keeps its value locally")
		assert.False(t, localHas(b, "k"))
		v, ok := get[string](t, b, "k")
		require.True(t, ok)
		assert.Equal(t, "v1", v)
		assert.True(t, localHas(b, "k"), "filled from Redis")
		_, _ = get[string](t, b, "k")
		st := b.Stats()
		assert.Equal(t, uint64(2), st.Hits-1, "two hits, plus localHas's")
		assert.Equal(t, uint64(0), st.Misses)
	})
}

func TestTieredInvalidationAcrossInstances(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		a, b, _, _, _ := twoTiered(t, tg)
		aBefore := a.Stats().Invalidations
		setAndSync(t, a, b, "k", "v1", time.Hour)
		setAndSync(t, a, b, "other", "o", time.Hour)
		_, _ = get[string](t, b, "k")
		_, _ = get[string](t, b, "other")
		require.True(t, localHas(b, "k"))

		// A write on a drops b's local copy.
		require.NoError(t, a.Set(bg, "k", "v2", time.Hour))
		require.Eventually(t, func() bool { return !localHas(b, "k") }, waitFor, tick)
		v, _ := get[string](t, b, "k")
		assert.Equal(t, "v2", v)

		// So does a delete, of several keys at once.
		require.NoError(t, a.Delete(bg, "k", "other"))
		require.Eventually(t, func() bool { return !localHas(b, "k") && !localHas(b, "other") }, waitFor, tick)
		_, ok := get[string](t, b, "k")
		assert.False(t, ok)
		assert.GreaterOrEqual(t, b.Stats().Invalidations, uint64(3))
		assert.Equal(t, aBefore, a.Stats().Invalidations, "a ignores its own messages")
		assert.True(t, localHas(a, "other") == false && localHas(a, "k") == false)
	})
}

func TestTieredAsideInvalidateAcrossInstances(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ta, tb, _, _, _ := twoTiered(t, tg)
		src := newSource()
		src.put("user:1", "ada")
		a := newAside(t, ta, src.load)
		b := newAside(t, tb, src.load)
		v, _ := a.Get(bg, "user:1")
		assert.Equal(t, "ada", v)
		v, _ = b.Get(bg, "user:1") // from Redis into b's local tier
		assert.Equal(t, "ada", v)
		assert.Equal(t, int64(1), src.calls.Load())

		src.put("user:1", "grace") // the write path: source of truth, then invalidate
		require.NoError(t, a.Invalidate(bg, "user:1"))
		require.Eventually(t, func() bool { return !localHas(tb, "user:1") }, waitFor, tick)
		v, _ = b.Get(bg, "user:1")
		assert.Equal(t, "grace", v)
		v, _ = a.Get(bg, "user:1")
		assert.Equal(t, "grace", v)
		assert.Equal(t, int64(2), src.calls.Load())
	})
}

// TestTieredFlushesOnReconnect: messages sent while an instance's
// subscription is down are lost to it, so it flushes its local tier and
// fills it again only once resubscribed.
func TestTieredFlushesOnReconnect(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for _, fault := range []string{"cut", "hang"} {
			t.Run(fault, func(t *testing.T) {
				old := tieredHealthInterval
				tieredHealthInterval = 20 * time.Millisecond
				defer func() { tieredHealthInterval = old }()
				// b alone reports to got: a may flap too, with the short
				// health interval on a loaded machine.
				var got events
				prefix := uniquePrefix(tg)
				var clk *fakeClock
				if tg.Mini != nil {
					clk = newFakeClock()
				}
				ca, _ := tg.NewClient()
				cb, fb := tg.NewClient()
				a := mustTiered(t, tg, ca, clk, prefix)
				b := mustTiered(t, tg, cb, clk, prefix, WithObserver(got.observe))
				setAndSync(t, a, b, "k", "v1", time.Hour)
				// A fill is kept only while subscribed, and the short health
				// interval may replace the subscription on a loaded machine.
				require.Eventually(t, func() bool {
					_, _ = get[string](t, b, "k")
					return localHas(b, "k")
				}, waitFor, tick)

				if fault == "cut" {
					fb.Cut()
				} else {
					fb.Hang()
				}
				// Flushed when the subscription dropped (live goes false first).
				require.Eventually(t, func() bool { return !b.live.Load() && !localHas(b, "k") }, waitFor, tick)
				require.Eventually(t, func() bool { return got.last(EventSubscriptionLost, EventResubscribed) == EventSubscriptionLost },
					waitFor, tick, "reported lost (the short health interval may have replaced it before, too)")
				require.NoError(t, a.Set(bg, "k", "v2", time.Hour)) // b misses this message

				fb.Heal()
				require.Eventually(t, b.live.Load, waitFor, tick, "resubscribed")
				require.Eventually(t, func() bool { return got.last(EventSubscriptionLost, EventResubscribed) == EventResubscribed },
					waitFor, tick, "reported back")
				// The test clients never retry (redistest), so a read on a
				// pooled connection the cut closed fails once: read until
				// one is answered.
				var v string
				var ok bool
				require.Eventually(t, func() bool {
					var err error
					v, ok, err = b.Get(bg, "k")
					return err == nil
				}, waitFor, tick, "reads answered again")
				assert.True(t, ok)
				assert.Equal(t, "v2", v, "no stale local copy survived")
				// As above: a fill made while the short health interval
				// replaces the subscription is not kept, so fill until one is.
				require.Eventually(t, func() bool {
					v, _ := get[string](t, b, "k")
					return v == "v2" && localHas(b, "k")
				}, waitFor, tick, "filling again")
			})
		}
	})
}

func TestTieredLocalTTLBoundedByRedisTTL(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini == nil {
			t.Skip("needs a fake clock on both tiers")
		}
		a, b, _, _, clk := twoTiered(t, tg, WithLocalTTL(10*time.Second))
		advance := func(d time.Duration) { clk.Advance(d); tg.Advance(d) }
		setAndSync(t, a, b, "short", "s", 5*time.Second)
		setAndSync(t, a, b, "long", "l", time.Hour)
		_, _ = get[string](t, b, "short")
		_, _ = get[string](t, b, "long")
		e, _, _ := b.local.GetEntry(bg, "long")
		assert.Equal(t, time.Hour, e.TTL, "GetEntry reports the Redis TTL, not the local one")

		advance(5 * time.Second)
		assert.False(t, localHas(b, "short"), "gone locally with Redis's TTL")
		assert.True(t, localHas(b, "long"))
		advance(5 * time.Second)
		assert.False(t, localHas(b, "long"), "local TTL reached")
		before := b.Stats()
		v, ok := get[string](t, b, "long")
		assert.True(t, ok)
		assert.Equal(t, "l", v)
		after := b.Stats()
		assert.Equal(t, before.LocalHits, after.LocalHits)
		assert.Equal(t, before.Hits+1, after.Hits, "a hit in Redis")
	})
}

func TestTieredClose(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	local := mustLRU[string](t, 10)
	remote := mustRedis[string](t, tg)
	c, err := NewTiered(local, remote)
	require.NoError(t, err)
	require.Eventually(t, c.live.Load, waitFor, tick)
	require.NoError(t, c.Set(bg, "k", "v", 0))
	require.NoError(t, c.Close())
	assert.False(t, c.live.Load())
	assert.Zero(t, local.Len())
	v, ok := get[string](t, c, "k")
	assert.True(t, ok, "reads still work, from Redis")
	assert.Equal(t, "v", v)
	assert.Zero(t, local.Len(), "but are not kept locally")
	assert.NoError(t, c.Close())
}

func TestTieredMessages(t *testing.T) {
	tc := &Tiered[string]{id: "me"}
	keys := []string{"a", "", "b c", "1:2", "x y:z ", "ü\n"}
	sender, got, err := parseMessage(tc.message(keys...))
	require.NoError(t, err)
	assert.Equal(t, "me", sender)
	assert.Equal(t, keys, got)
	for _, bad := range []string{"me 3:ab", "me x:ab", "me 1:ab", "me -1:a", "me 1:a2:bc"} {
		_, _, err := parseMessage(bad)
		assert.ErrorIs(t, err, errBadMessage, bad)
	}
}

func TestTieredConfig(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	local := mustLRU[string](t, 10)
	remote := mustRedis[string](t, tg)
	for name, opts := range map[string][]TieredOption{
		"zero local TTL": {WithLocalTTL(0)},
		"empty channel":  {WithChannel("")},
		"nil observer":   {WithObserver(nil)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewTiered(local, remote, opts...)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	_, err := NewTiered[string](nil, remote)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewTiered[string](local, nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
