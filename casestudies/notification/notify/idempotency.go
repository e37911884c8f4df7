package notify

import (
	"context"
	"sync"
	"time"
)

// idemStore remembers idempotency keys: claim stores id under key unless
// the key is taken, and returns the id it holds either way.
type idemStore interface {
	claim(ctx context.Context, key, id string, ttl time.Duration) (held string, err error)
	// release forgets key if it still holds id: an accept that failed
	// must not leave its key pointing at nothing.
	release(ctx context.Context, key, id string) error
}

// memoryIdem keeps keys in this process until they expire; expired keys
// are swept as new ones arrive, so memory stays proportional to the keys
// of the last TTL.
type memoryIdem struct {
	now func() time.Time

	mu      sync.Mutex
	m       map[string]idemEntry
	sweepAt int // sweep when the map reaches this size
}

type idemEntry struct {
	id      string
	expires time.Time
}

func newMemoryIdem(now func() time.Time) *memoryIdem {
	return &memoryIdem{now: now, m: make(map[string]idemEntry), sweepAt: 1024}
}

func (s *memoryIdem) claim(_ context.Context, key, id string, ttl time.Duration) (string, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && now.Before(e.expires) {
		return e.id, nil
	}
	if len(s.m) >= s.sweepAt {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		s.sweepAt = max(1024, 2*len(s.m))
	}
	s.m[key] = idemEntry{id: id, expires: now.Add(ttl)}
	return id, nil
}

func (s *memoryIdem) release(_ context.Context, key, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && e.id == id {
		delete(s.m, key)
	}
	return nil
}
