package cache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mapCache is a user's own Cache: bare values, no EntryCache extension.
type mapCache struct {
	mu   sync.Mutex
	m    map[string]string
	ttls map[string]time.Duration
}

func newMapCache() *mapCache {
	return &mapCache{m: map[string]string{}, ttls: map[string]time.Duration{}}
}

func (c *mapCache) Get(_ context.Context, key string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok, nil
}

func (c *mapCache) Set(_ context.Context, key, v string, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key], c.ttls[key] = v, ttl
	return nil
}

func (c *mapCache) Delete(_ context.Context, keys ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		delete(c.m, k)
	}
	return nil
}

// TestAsideOverPlainCache: Aside works over any Cache: read-through, store
// with the (jittered) TTL, hit, invalidate; what only an EntryCache can
// hold — negative entries, load times for early refresh — is refused.
func TestAsideOverPlainCache(t *testing.T) {
	src := newSource()
	src.put("u1", "Ada")
	c := newMapCache()
	a, err := NewAside[string](c, src.load, WithTTL(time.Minute), WithJitter(0))
	require.NoError(t, err)
	defer a.Close()
	ctx := context.Background()

	v, err := a.Get(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, "Ada", v)
	require.Equal(t, "Ada", c.m["u1"], "the loaded value is stored in the cache")
	require.Equal(t, time.Minute, c.ttls["u1"])

	v, err = a.Get(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, "Ada", v)
	require.EqualValues(t, 1, src.calls.Load(), "the second read is a hit")

	src.put("u1", "Grace")
	require.NoError(t, a.Invalidate(ctx, "u1"))
	v, err = a.Get(ctx, "u1")
	require.NoError(t, err)
	require.Equal(t, "Grace", v)

	_, err = a.Get(ctx, "missing")
	require.ErrorIs(t, err, ErrNotFound)
	_, stored := c.m["missing"]
	require.False(t, stored, "a plain cache gets no negative entry")
	s := a.Stats()
	require.EqualValues(t, 1, s.Hits)
	require.EqualValues(t, 3, s.Loads)

	for _, opt := range []AsideOption{WithNegativeTTL(time.Second), WithEarlyRefresh(1)} {
		_, err := NewAside[string](newMapCache(), src.load, opt)
		require.ErrorIs(t, err, ErrInvalidConfig)
	}
}
