package analytics

import "sync"

// seenCapacity bounds the click ids a process remembers having handled:
// redeliveries come within seconds (a lost acknowledgement, a reclaimed
// message), so the last 64Ki ids (a few MiB) are plenty.
const seenCapacity = 1 << 16

// seenIDs remembers the most recent click ids handled, so that a
// redelivery is not counted as one more click handled (Flush and Close
// would stop waiting before the last clicks are in). The store's event ids
// are what make the count exact; this only keeps the counters honest.
type seenIDs struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	next int
}

func newSeenIDs() *seenIDs {
	return &seenIDs{set: make(map[string]struct{}, seenCapacity), ring: make([]string, seenCapacity)}
}

// add records id and reports whether it is new.
func (s *seenIDs) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.set[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.set, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.set[id] = struct{}{}
	return true
}
