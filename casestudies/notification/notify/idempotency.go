package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// idemPendingTTL bounds how long a claimed key waits for its notification
// to be accepted: longer than any accept (bounded by the request's
// deadline), short enough that a claim left by a crashed instance frees
// the key soon.
const idemPendingTTL = 30 * time.Second

// idemStore remembers idempotency keys. A key is first claimed as pending
// by the request that will write the notification, and confirmed once the
// notification is accepted; requests that find it pending wait, so that
// no one is answered with the id of a notification that then fails to be
// written.
type idemStore interface {
	// claim takes key for id (pending, for idemPendingTTL) if it is free,
	// and returns what the key holds afterwards.
	claim(ctx context.Context, key, id string) (held string, done bool, err error)
	// confirm marks the claim of id accepted, for ttl.
	confirm(ctx context.Context, key, id string, ttl time.Duration) error
	// release frees key if it holds id's pending claim.
	release(ctx context.Context, key, id string) error
}

// parseIdem reads a stored "p:<id>" or "d:<id>".
func parseIdem(v string) (id string, done bool, err error) {
	switch {
	case strings.HasPrefix(v, "d:"):
		return v[2:], true, nil
	case strings.HasPrefix(v, "p:"):
		return v[2:], false, nil
	}
	return "", false, fmt.Errorf("notify: idempotency record %q is corrupt", v)
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
	done    bool
	expires time.Time
}

func newMemoryIdem(now func() time.Time) *memoryIdem {
	return &memoryIdem{now: now, m: make(map[string]idemEntry), sweepAt: 1024}
}

func (s *memoryIdem) claim(_ context.Context, key, id string) (string, bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && now.Before(e.expires) {
		return e.id, e.done, nil
	}
	if len(s.m) >= s.sweepAt {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		s.sweepAt = max(1024, 2*len(s.m))
	}
	s.m[key] = idemEntry{id: id, expires: now.Add(idemPendingTTL)}
	return id, false, nil
}

func (s *memoryIdem) confirm(_ context.Context, key, id string, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && e.id == id && !e.done {
		s.m[key] = idemEntry{id: id, done: true, expires: s.now().Add(ttl)}
		return nil
	}
	return fmt.Errorf("notify: idempotency claim of %s expired before it was confirmed", id)
}

func (s *memoryIdem) release(_ context.Context, key, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && e.id == id && !e.done {
		delete(s.m, key)
	}
	return nil
}
