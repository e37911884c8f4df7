package shortener

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/cache"
)

// degradedFor is how long, after Redis failed a lookup, lookups answer from
// the last-good copies first instead of waiting for Redis again.
const degradedFor = time.Second

// lastGood keeps the links this instance resolved recently, to redirect
// them while Redis is down. It exists because cache.Tiered empties its local
// tier when its invalidation subscription drops (so it cannot serve what a
// delete elsewhere may have changed), which would turn a Redis outage into a
// redirect outage. The price: while Redis is down, a link deleted elsewhere
// just before may still redirect here, for at most Config.CacheTTL. Only the
// Redis backend has one: memory cannot fail.
type lastGood struct {
	links *cache.LRU[Link]
	ttl   time.Duration
	// until is when the degraded mode ends (UnixNano; 0: not degraded).
	until atomic.Int64
}

func newLastGood(capacity int, ttl time.Duration) (*lastGood, error) {
	lru, err := cache.NewLRU[Link](capacity, cache.WithShards(16))
	if err != nil {
		return nil, err
	}
	return &lastGood{links: lru, ttl: ttl}, nil
}

// degraded reports whether Redis failed a lookup within degradedFor.
func (g *lastGood) degraded() bool {
	until := g.until.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// failed notes that Redis failed a lookup.
func (g *lastGood) failed() { g.until.Store(time.Now().Add(degradedFor).UnixNano()) }

func (g *lastGood) get(code string) (Link, bool) {
	l, ok, _ := g.links.Get(context.Background(), code)
	return l, ok
}

func (g *lastGood) put(l Link) { _ = g.links.Set(context.Background(), l.Code, l, g.ttl) }

func (g *lastGood) forget(code string) { _ = g.links.Delete(context.Background(), code) }
