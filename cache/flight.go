package cache

import "sync"

// flight is one load of a key in progress in this process. Every caller
// that misses the key while it runs waits on done and gets its result.
type flight[V any] struct {
	done chan struct{} // closed when val and err are set
	val  V
	err  error

	refresh       bool // started by early refresh, not by a miss
	cacheDown     bool // the cache read before it failed: do not look again
	cacheTimedOut bool // it failed for want of an answer: Redis is not answering
	joined        int  // callers that joined after the first (under Aside.mu)
	// fence: read by the caller whose miss started the flight, for its
	// store (see aside_missfence.go); the zero fence: the load reads it.
	fence fence

	mu    sync.Mutex // held while the result is stored, and to set stale
	stale bool       // Invalidate ran since the load began: do not store
}

func newFlight[V any](refresh bool) *flight[V] {
	return &flight[V]{done: make(chan struct{}), refresh: refresh}
}

// finish hands the result to every waiter.
func (f *flight[V]) finish(v V, err error) {
	f.val, f.err = v, err
	close(f.done)
}

func (f *flight[V]) isDone() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}
