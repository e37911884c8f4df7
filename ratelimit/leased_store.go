package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// lease is what is left of one key's leased tokens, until when they may
// be spent, and the decision that took them (for the rate-limit headers).
type lease struct {
	left    atomic.Int64
	expires time.Time
	d       Decision
}

// take spends one of l's tokens, if it has one left and has not expired;
// it returns how many are left after it.
func (l *lease) take(now time.Time) (left int64, ok bool) {
	if !now.Before(l.expires) {
		return 0, false
	}
	for {
		n := l.left.Load()
		if n <= 0 {
			return 0, false
		}
		if l.left.CompareAndSwap(n, n-1) {
			return n - 1, true
		}
	}
}

// leaseShards spreads the leases over locks, so that decisions of
// different keys rarely contend.
const leaseShards = 16

// leaseStore holds at most max leases, by key.
type leaseStore struct {
	seed   maphash.Seed
	shards []leaseShard
	perCap int
}

type leaseShard struct {
	mu     sync.RWMutex
	leases map[string]*lease
}

func newLeaseStore(max int) *leaseStore {
	n := leaseShards
	if max < n {
		n = 1
	}
	s := &leaseStore{seed: maphash.MakeSeed(), shards: make([]leaseShard, n), perCap: max / n}
	for i := range s.shards {
		s.shards[i].leases = make(map[string]*lease)
	}
	return s
}

func (s *leaseStore) shard(key string) *leaseShard {
	if len(s.shards) == 1 {
		return &s.shards[0]
	}
	return &s.shards[maphash.String(s.seed, key)%uint64(len(s.shards))]
}

func (s *leaseStore) get(key string) *lease {
	sh := s.shard(key)
	sh.mu.RLock()
	l := sh.leases[key]
	sh.mu.RUnlock()
	return l
}

// put stores l for key, replacing the key's spent or expired lease. A
// full shard drops its expired leases first, then, if that freed nothing,
// one arbitrary lease.
func (s *leaseStore) put(key string, l *lease, now time.Time) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.leases[key]; !ok && len(sh.leases) >= s.perCap {
		for k, old := range sh.leases {
			if !now.Before(old.expires) {
				delete(sh.leases, k)
			}
		}
		if len(sh.leases) >= s.perCap {
			for k := range sh.leases {
				delete(sh.leases, k)
				break
			}
		}
	}
	sh.leases[key] = l
}

// len is how many leases the store holds now.
func (s *leaseStore) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.leases)
		sh.mu.RUnlock()
	}
	return n
}
