package shortener

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/ratelimit"
)

// newMemoryBackend keeps everything in this process: restarts lose it, and
// a second process has its own.
func newMemoryBackend(cfg Config) (*backend, error) {
	store := cqrs.NewMemoryStore()
	table, err := cqrs.NewMemoryReadModel("urlshortener-links", linkTable)
	if err != nil {
		return nil, err
	}
	lru, err := cache.NewLRU[Link](cfg.CacheSize, cache.WithClock(cfg.Clock))
	if err != nil {
		return nil, err
	}
	var counter atomic.Uint64
	return &backend{
		store:   store,
		table:   table,
		get:     table.Get,
		links:   lru,
		counter: func(context.Context) (uint64, error) { return counter.Add(1), nil },
		visits:  &memoryVisits{used: make(map[string]int64)},
		codeKey: func(_ context.Context, configured []byte) ([]byte, error) {
			if configured != nil {
				return configured, nil
			}
			// Codes live no longer than this process: a fresh key is fine.
			k := make([]byte, 32)
			_, err := rand.Read(k)
			return k, err
		},
		limiter: func(_ string, l ratelimit.Limit) (ratelimit.Limiter, error) {
			return ratelimit.NewMemory(ratelimit.TokenBucket, l, ratelimit.WithClock(cfg.Clock))
		},
		ping:  func(context.Context) error { return nil },
		close: func() error { return nil },
	}, nil
}

// memoryVisits counts under one mutex: a take is a map lookup and an
// increment, far shorter than the redirect it guards.
type memoryVisits struct {
	mu   sync.Mutex
	used map[string]int64
}

func (m *memoryVisits) take(_ context.Context, code string, max int64) (bool, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.used[code]
	if n >= max {
		return false, n, nil
	}
	n++
	m.used[code] = n
	return true, n, nil
}

func (m *memoryVisits) drop(_ context.Context, code string) error {
	m.mu.Lock()
	delete(m.used, code)
	m.mu.Unlock()
	return nil
}
