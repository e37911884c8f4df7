package ratelimit

import (
	"hash/maphash"
	"sync"
)

// keyState is the per-key state of one algorithm.
type keyState[S any] interface {
	*S
	decide(s *spec, now, n int64) outcome
	idle(s *spec, now int64) bool
}

const numShards = 64 // a power of two

// table is a sharded map from key to algorithm state. Each shard has its
// own lock, so parallel callers on different keys rarely contend. Idle
// states (equal to a fresh key's) are swept out of a shard by the caller
// that finds the shard's sweep due: no background goroutine to leak.
type table[S any, P keyState[S]] struct {
	seed       maphash.Seed
	spec       *spec
	shards     [numShards]shard[S]
	shardCap   int   // 0: unbounded
	sweepEvery int64 // µs between sweeps of one shard
}

type shard[S any] struct {
	mu        sync.Mutex
	states    map[string]*S
	nextSweep int64
	_         [40]byte // keep neighbouring shards' locks off one cache line
}

func newTable[S any, P keyState[S]](s *spec, maxKeys int) *table[S, P] {
	t := &table[S, P]{seed: maphash.MakeSeed(), spec: s, sweepEvery: sweepInterval(s)}
	if maxKeys > 0 {
		t.shardCap = (maxKeys + numShards - 1) / numShards
	}
	for i := range t.shards {
		t.shards[i].states = make(map[string]*S)
	}
	return t
}

// sweepInterval is how long a key may take to become idle, clamped to
// [1s, 1min]: sweeping more often than a state can go idle finds nothing,
// less often than a minute lets dead keys pile up.
func sweepInterval(s *spec) int64 {
	d := 2 * s.periodUS
	if s.alg.bucket() {
		d = ceilDiv(s.burst*s.periodUS, s.rate)
	}
	return min(max(d, 1_000_000), 60_000_000)
}

func (t *table[S, P]) decide(key string, now, n int64) (outcome, error) {
	sh := &t.shards[maphash.String(t.seed, key)&(numShards-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now >= sh.nextSweep {
		t.sweep(sh, now)
	}
	st, ok := sh.states[key]
	if !ok {
		if t.shardCap > 0 && len(sh.states) >= t.shardCap {
			t.sweep(sh, now)
			if len(sh.states) >= t.shardCap {
				return outcome{}, ErrTooManyKeys
			}
		}
		st = new(S)
		sh.states[key] = st
	}
	return P(st).decide(t.spec, now, n), nil
}

// sweep drops the shard's idle states; the caller holds the lock.
func (t *table[S, P]) sweep(sh *shard[S], now int64) {
	for k, st := range sh.states {
		if P(st).idle(t.spec, now) {
			delete(sh.states, k)
		}
	}
	sh.nextSweep = now + t.sweepEvery
}

func (t *table[S, P]) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.states)
		sh.mu.Unlock()
	}
	return n
}
