package cachetest_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cache/cachetest"
)

// manualClock is the clock the cache under test expires entries by; the
// suite moves it.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lruBackend is the factory a cache's author writes: a fresh, empty cache
// per case, on a clock the suite can move. cache's LRU stands in for yours
// here.
func lruBackend(t *testing.T) cachetest.Backend {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	c, err := cache.NewLRU[string](100, cache.WithClock(clock.Now))
	require.NoError(t, err)
	return cachetest.Backend{Cache: c, Advance: clock.Advance}
}

// plainCache hides the LRU's EntryCache and Stats methods: a cache with
// the three methods of cache.Cache only, as a minimal third-party cache
// has.
type plainCache struct{ cache.Cache[string] }

// TestLRUConforms is the whole of what a cache's author adds to the
// cache's tests.
func TestLRUConforms(t *testing.T) {
	cachetest.TestCache(t, cachetest.Features{}, lruBackend)
}

// TestPlainCacheConforms: a cache without entry metadata or Stats passes
// too; the cases for those skip.
func TestPlainCacheConforms(t *testing.T) {
	cachetest.TestCache(t, cachetest.Features{}, func(t *testing.T) cachetest.Backend {
		b := lruBackend(t)
		b.Cache = plainCache{b.Cache}
		return b
	})
}

// The test that proves a cache conforms is one call (TestLRUConforms
// above); each case is a subtest, so `go test -run 'TestLRUConforms/ttl'`
// runs one. A caller can also pick cases from Cases and run them itself.
func Example() {
	_ = func(t *testing.T) { cachetest.TestCache(t, cachetest.Features{}, lruBackend) }

	for _, c := range cachetest.Cases[:4] {
		fmt.Println(c.Name)
	}
	// Output:
	// miss
	// set get overwrite
	// odd keys and values
	// delete
}
