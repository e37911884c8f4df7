package cachetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cache"
)

// DefaultTTL is the TTL the expiry case sets when Backend.TTL is 0.
const DefaultTTL = time.Second

// Backend is one fresh, empty cache under test, as a Factory hands it to a
// case.
type Backend struct {
	// Cache is the cache under test.
	Cache cache.Cache[string]
	// Advance moves the clock the cache expires entries by forward by d.
	// On a cache that expires by a clock nobody can move it may sleep
	// (then keep TTL short). nil skips the cases that wait out a TTL.
	Advance func(d time.Duration)
	// TTL is a TTL the expiry case can wait out by Advance; 0 means
	// DefaultTTL.
	TTL time.Duration
	// Peer is a second instance of the cache over the same shared store,
	// as another process would have it (for an in-process cache, Cache
	// itself). The fencing case runs only with one: it checks that
	// cache.Aside's Invalidate through Cache keeps a load of the old value
	// in flight through Peer from storing it, which Aside guarantees over
	// cache's LRU, Redis and Tiered only. nil skips it.
	Peer cache.Cache[string]
}

func (b Backend) ttl() time.Duration {
	if b.TTL > 0 {
		return b.TTL
	}
	return DefaultTTL
}

// Factory returns a fresh, empty backend for one case; it registers its own
// clean-up with t.
type Factory func(t *testing.T) Backend

// Features declares what a cache cannot do; the zero value claims
// everything.
type Features struct {
	// NoTTL: the cache ignores TTLs (it never expires an entry), so the
	// expiry case skips. Set and SetEntry must still refuse a negative
	// TTL.
	NoTTL bool
}

// Case is one named conformance case.
type Case struct {
	// Name is the subtest's name.
	Name string
	// Run checks the backend; it may skip when the backend lacks what the
	// case needs.
	Run func(t *testing.T, f Features, b Backend)
}

// TestCache runs every case of Cases as a subtest of t, each on a fresh
// backend from newBackend.
func TestCache(t *testing.T, f Features, newBackend Factory) {
	t.Helper()
	for _, c := range Cases {
		c.Test(t, f, newBackend)
	}
}

// Test runs the case as a subtest of t named c.Name, on a fresh backend
// from newBackend.
func (c Case) Test(t *testing.T, f Features, newBackend Factory) {
	t.Helper()
	t.Run(c.Name, func(t *testing.T) {
		b := newBackend(t)
		require.NotNil(t, b.Cache, "cachetest: the factory returned no Cache")
		c.Run(t, f, b)
	})
}
