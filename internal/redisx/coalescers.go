package redisx

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// coalescers holds one coalescer per client, by the client's address, so
// that every package's bounds on one client share its pipelines. An entry
// goes when its client is collected: the coalescer holds no reference to
// its client, so the map does not keep clients alive.
var coalescers sync.Map // uintptr → *coalescer

// coalescerFor returns c's coalescer, or nil for a client that is not
// pipelined: only *redis.Client (failover clients included) and
// *redis.ClusterClient are; a *redis.Ring or an unknown UniversalClient is
// called plainly.
func coalescerFor(c redis.UniversalClient) *coalescer {
	switch c := c.(type) {
	case *redis.Client:
		return coalescerAt(c)
	case *redis.ClusterClient:
		return coalescerAt(c)
	}
	return nil
}

func coalescerAt[T any](client *T) *coalescer {
	if client == nil {
		return nil
	}
	addr := uintptr(unsafe.Pointer(client))
	if p, ok := coalescers.Load(addr); ok {
		return p.(*coalescer)
	}
	p := new(coalescer)
	if got, loaded := coalescers.LoadOrStore(addr, p); loaded {
		return got.(*coalescer)
	}
	runtime.AddCleanup(client, forget, entry{addr, p})
	return p
}

type entry struct {
	addr uintptr
	p    *coalescer
}

// forget drops a collected client's entry, unless a newer client at the
// same address has replaced it already.
func forget(e entry) { coalescers.CompareAndDelete(e.addr, e.p) }
