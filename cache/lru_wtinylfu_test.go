package cache

import (
	"math/rand"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkSegments walks every list of every shard and checks that each
// entry is linked both ways in the segment it says it is in, that the
// segment counts add up, and that the window and protected bounds hold.
func checkSegments[V any](t *testing.T, c *LRU[V]) {
	t.Helper()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		total := 0
		for _, seg := range []uint8{segWindow, segProbation, segProtected} {
			if s.wt == nil && seg != segWindow {
				continue
			}
			head, tail := s.ends(seg)
			n, prev := 0, int32(-1)
			for e := *head; e >= 0; e = s.entries[e].next {
				en := &s.entries[e]
				require.True(t, en.live, "shard %d seg %d: a free entry in a list", i, seg)
				require.Equal(t, seg, en.seg, "shard %d: entry in the wrong segment's list", i)
				require.Equal(t, prev, en.prev, "shard %d seg %d: broken back link", i, seg)
				prev = e
				n++
				require.LessOrEqual(t, n, s.count, "shard %d seg %d: a cycle", i, seg)
			}
			require.Equal(t, prev, *tail, "shard %d seg %d: tail", i, seg)
			if s.wt != nil {
				require.Equal(t, s.wt.n[seg], n, "shard %d seg %d: count", i, seg)
			}
			total += n
		}
		require.Equal(t, s.count, total, "shard %d: entries in no list", i)
		require.LessOrEqual(t, s.count, s.capacity)
		s.mu.Unlock()
	}
}

// TestWTinyLFUSegmentsStayConsistent drives random Gets, Sets (with and
// without TTLs), Deletes and cost-bounded updates through W-TinyLFU LRUs
// of several sizes and shard counts and checks the lists after each
// batch.
func TestWTinyLFUSegmentsStayConsistent(t *testing.T) {
	for _, tc := range []struct {
		capacity, shards int
		maxCost          int64
	}{{1, 1, 0}, {2, 1, 0}, {10, 1, 0}, {100, 1, 0}, {100, 4, 0}, {100, 1, 300}, {64, 8, 0}} {
		t.Run(strconv.Itoa(tc.capacity)+"/"+strconv.Itoa(tc.shards)+"/"+strconv.FormatInt(tc.maxCost, 10), func(t *testing.T) {
			clk := newFakeClock()
			opts := []LRUOption{WithClock(clk.Now), WithTinyLFU(), WithShards(tc.shards)}
			if tc.maxCost > 0 {
				opts = append(opts, WithMaxCost(tc.maxCost, func(v int) int64 { return int64(v % 7) }))
			}
			c := mustLRU[int](t, tc.capacity, opts...)
			rng := rand.New(rand.NewSource(int64(tc.capacity)))
			for batch := range 50 {
				for i := range 400 {
					k := strconv.Itoa(int(rng.ExpFloat64() * float64(tc.capacity)))
					switch r := rng.Intn(10); {
					case r < 5:
						if _, ok, _ := c.Get(bg, k); !ok {
							_ = c.Set(bg, k, i, time.Duration(rng.Intn(3))*time.Second)
						}
					case r < 8:
						_ = c.Set(bg, k, i, 0)
					case r < 9:
						_ = c.Delete(bg, k)
					default:
						_, _, _ = c.GetEntry(bg, k)
					}
				}
				if batch%10 == 9 {
					clk.Advance(time.Second)
				}
				checkSegments(t, c)
				// A new key brings protected back within its share (the
				// climber may have shrunk it since).
				key := "batch" + strconv.Itoa(batch)
				_ = c.Set(bg, key, batch, 0)
				s, _ := c.shardOf(key)
				if w := s.wt; w.n[segProtected] > 1 {
					require.LessOrEqual(t, w.n[segProtected], w.protectedMax, "protected overflows")
				}
			}
			c.Purge()
			checkSegments(t, c)
			require.NoError(t, c.Set(bg, "after purge", 1, 0))
			_, ok, _ := c.Get(bg, "after purge")
			assert.True(t, ok)
		})
	}
}

// TestWTinyLFUNewKeysGetIn: every new key enters the window, so a key
// read right after it was set is a hit even in a full cache of keys
// asked for far more often (plain TinyLFU admission refused such a key
// outright); and a hot set survives a scan of keys read twice each.
func TestWTinyLFUNewKeysGetIn(t *testing.T) {
	c := mustLRU[int](t, 100, WithTinyLFU())
	for range 20 {
		for i := range 100 {
			k := "hot" + strconv.Itoa(i)
			if _, ok, _ := c.Get(bg, k); !ok {
				require.NoError(t, c.Set(bg, k, i, 0))
			}
		}
	}
	for i := range 300 { // three times the capacity
		k := "new" + strconv.Itoa(i)
		_, _, _ = c.Get(bg, k) // a miss, counted by the sketch
		require.NoError(t, c.Set(bg, k, i, 0))
		_, ok, _ := c.Get(bg, k)
		require.True(t, ok, "a new key is in the window")
	}
	kept := 0
	for i := range 100 {
		if _, ok, _ := c.Get(bg, "hot"+strconv.Itoa(i)); ok {
			kept++
		}
	}
	assert.GreaterOrEqual(t, kept, 90, "the hot set survives the scan")
	assert.NotZero(t, c.Stats().Rejections, "scan keys lost their duels")
}

// TestWTinyLFUClimber: the window grows while that raises the hit rate,
// turns back when the rate falls, restarts with a full step when the
// rate jumps, and stays within [1, capacity].
func TestWTinyLFUClimber(t *testing.T) {
	w := newWTinyLFU(1000)
	require.Equal(t, 10, w.windowMax, "1% to begin with")
	require.Equal(t, int(protectedShare*990), w.protectedMax)

	w.window, w.step, w.lastRate = 100, 10, 0.50
	w.resize()
	w.climb(0.51) // better: keep going
	assert.Equal(t, 110, w.windowMax)
	assert.InDelta(t, 10*climbDecay, w.step, 1e-9, "the step shrinks as it settles")
	w.climb(0.505) // worse: turn back
	assert.Equal(t, 100, w.windowMax)
	assert.Less(t, w.step, 0.0)
	w.climb(0.70) // a jump: a full step, the same way
	assert.InDelta(t, -climbStepShare*1000, w.step, 1e-9)

	for range 1000 { // forever worse: never below 1
		w.climb(w.lastRate - 0.001)
		w.climb(w.lastRate - 0.001)
		require.GreaterOrEqual(t, w.windowMax, 1)
		require.LessOrEqual(t, w.windowMax, 1000)
	}
	w.window, w.step = 990, 50
	w.climb(w.lastRate + 0.01)
	assert.Equal(t, 1000, w.windowMax, "at most the capacity")
	assert.Equal(t, 0, w.protectedMax)
}

// TestWTinyLFUClimbsOnTraffic: on traffic that recency serves and
// frequency does not (a new key every third request, the others going
// back to a key used a little while ago, at an exponentially distributed
// distance: few keys are asked for often), the climber grows the window
// from its initial 1%, and W-TinyLFU gets close to plain LRU's hit rate.
func TestWTinyLFUClimbsOnTraffic(t *testing.T) {
	// replay returns the LRU and its hit rate over the trace's last third.
	replay := func(opts ...LRUOption) (*LRU[int], float64) {
		c := mustLRU[int](t, 1000, opts...)
		rng := rand.New(rand.NewSource(3))
		next := 0
		var before Stats
		for i := range 300_000 {
			if i == 200_000 {
				before = c.Stats()
			}
			k := next
			if rng.Intn(3) == 0 || next == 0 {
				next++
			} else {
				k = max(next-1-int(rng.ExpFloat64()*300), 0)
			}
			key := strconv.Itoa(k)
			if _, ok, _ := c.Get(bg, key); !ok {
				_ = c.Set(bg, key, k, 0)
			}
		}
		after := c.Stats()
		return c, float64(after.Hits-before.Hits) / float64(after.Hits+after.Misses-before.Hits-before.Misses)
	}
	_, lruRate := replay()
	wt, wtRate := replay(WithTinyLFU())
	window := wt.shards[0].wt.windowMax
	t.Logf("window %d of 1000; hit rate at the end %.3f, LRU's %.3f", window, wtRate, lruRate)
	assert.Greater(t, window, 500, "the window grew")
	assert.Greater(t, wtRate, lruRate-0.03, "close to LRU once climbed")
}

// TestRotateTail: coldestVictim's rotation moves the run from last to the
// tail to the front in its order, except keep, which becomes the tail,
// with every link and end right (a plain LRU's list stands in for
// probation: the splice works on any segment's list).
func TestRotateTail(t *testing.T) {
	order := func(s *shard[int]) []string {
		var keys []string
		for e := s.head; e >= 0; e = s.entries[e].next {
			keys = append(keys, s.entries[e].key)
		}
		return keys
	}
	for _, tc := range []struct {
		last, keep string
		want       []string
	}{
		{"k3", "k1", []string{"k3", "k2", "k0", "k9", "k8", "k7", "k6", "k5", "k4", "k1"}},
		{"k9", "k5", []string{"k9", "k8", "k7", "k6", "k4", "k3", "k2", "k1", "k0", "k5"}}, // the whole list
		{"k0", "k0", []string{"k9", "k8", "k7", "k6", "k5", "k4", "k3", "k2", "k1", "k0"}}, // the tail alone
		{"k2", "k2", []string{"k1", "k0", "k9", "k8", "k7", "k6", "k5", "k4", "k3", "k2"}},
	} {
		c := mustLRU[int](t, 10)
		for i := range 10 {
			require.NoError(t, c.Set(bg, "k"+strconv.Itoa(i), i, 0))
		}
		s, _ := c.shardOf("k0")
		entry := func(k string) int32 {
			_, h := c.shardOf(k)
			e, _ := s.find(k, h)
			require.GreaterOrEqual(t, e, int32(0), k)
			return e
		}
		s.mu.Lock()
		s.rotateTail(entry(tc.last), entry(tc.keep))
		got := order(s)
		s.mu.Unlock()
		assert.Equal(t, tc.want, got, "last %s keep %s", tc.last, tc.keep)
		checkSegments(t, c)
	}
}
