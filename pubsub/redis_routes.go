package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// routes is a snapshot of the binding registry: a trie from patterns to
// group stream keys (and the bindings it was built from), and the
// registry version it reflects.
type routes struct {
	version    string
	versionArg any // version, boxed once for the publish script
	ver        regVersion
	bindings   map[string][]string // pattern -> stream keys
	r          router[string]
}

func newRoutes(version string, bindings map[string][]string) *routes {
	rt := &routes{version: version, versionArg: version, ver: parseVersion(version), bindings: bindings}
	rt.r.replace(bindings)
	return rt
}

// without returns the bindings of rt that other lacks, or nil if none.
func (rt *routes) without(other *routes) map[string][]string {
	var rest map[string][]string
	for p, streams := range rt.bindings {
		for _, st := range streams {
			if !contains(other.bindings[p], st) {
				if rest == nil {
					rest = make(map[string][]string)
				}
				rest[p] = append(rest[p], st)
			}
		}
	}
	return rest
}

// regVersion is a registry version "<epoch>:<n>" (see lua/version.lua):
// n counts binding changes within an epoch, and the epoch changes when
// Redis lost the registry. The zero value is a registry without version.
type regVersion struct {
	epoch string
	n     int64
}

func parseVersion(v string) regVersion {
	e, n, ok := strings.Cut(v, ":")
	if !ok {
		return regVersion{}
	}
	c, err := redisx.ParseInt(n)
	if err != nil {
		return regVersion{}
	}
	return regVersion{epoch: e, n: c}
}

// registry is a bus's cached copy of the binding registry, and what it
// remembers of a registry that Redis lost.
type registry struct {
	cur  atomic.Pointer[routes] // nil: load it again
	mu   sync.Mutex             // serialises loads; guards last
	last *routes                // the copy loaded last
	lost atomic.Pointer[lostRoutes]
}

// lostRoutes is what a registry that Redis lost (noticed when a load found
// another epoch) bound and is not bound again yet, kept until its groups
// had time to bind again.
type lostRoutes struct {
	rt    *routes
	until time.Time
}

func (g *registry) invalidate(rt *routes) { g.cur.CompareAndSwap(rt, nil) }

// currentRoutes returns the cached registry, loading it if there is none
// (within what remains of the timeout of the operation whose first Redis
// call was made at *start, see remaining); loaded says whether it was
// loaded by this call.
func (b *Redis) currentRoutes(ctx context.Context, start *time.Time) (rt *routes, loaded bool, err error) {
	if rt := b.reg.cur.Load(); rt != nil {
		return rt, false, nil
	}
	b.reg.mu.Lock()
	defer b.reg.mu.Unlock()
	if rt := b.reg.cur.Load(); rt != nil {
		return rt, false, nil
	}
	bound, err := b.remaining(start)
	if err != nil {
		return nil, false, err
	}
	vals, err := bound.Eval(ctx, b.client, loadScript, []string{b.regKey, b.verKey}, nil, nil).StringSlice()
	if err != nil {
		return nil, false, fmt.Errorf("loading the group registry: %w", err)
	}
	if len(vals) == 0 || len(vals)%2 != 1 {
		return nil, false, errors.New("pubsub: malformed registry reply")
	}
	bindings := make(map[string][]string, len(vals)/2)
	for i := 1; i < len(vals); i += 2 {
		if ValidatePattern(vals[i+1]) == nil {
			bindings[vals[i+1]] = append(bindings[vals[i+1]], b.streamKey(vals[i]))
		}
	}
	rt = newRoutes(vals[0], bindings)
	b.noteLoss(rt)
	b.reg.last = rt
	b.reg.cur.Store(rt)
	return rt, true, nil
}

// noteLoss keeps what the registry bound before Redis lost it (the last
// copy loaded was of another epoch), minus what rt shows bound again: a
// group is expected until it is bound again, then it may be deleted like
// any other. reg.mu is held.
func (b *Redis) noteLoss(rt *routes) {
	lost := b.reg.lost.Load()
	if prev := b.reg.last; prev != nil && prev.ver.epoch != "" && rt.ver.epoch != prev.ver.epoch {
		// The version key was lost, so was the registry.
		lost = &lostRoutes{rt: prev, until: time.Now().Add(b.rebindGrace())}
	}
	if lost == nil {
		return
	}
	rest := lost.rt.without(rt)
	if rest == nil || time.Now().After(lost.until) {
		b.reg.lost.Store(nil)
		return
	}
	b.reg.lost.Store(&lostRoutes{rt: newRoutes(lost.rt.version, rest), until: lost.until})
}

// rebindGrace is how long, after noticing that Redis lost the registry,
// Publish expects the groups it bound to bind again: a running member
// notices within a read (the read block plus the timeout) and binds again
// with one call.
func (b *Redis) rebindGrace() time.Duration { return 2 * (b.cfg.readBlock + b.cfg.timeout) }

// unbound returns a group that must receive a message on topic but has no
// binding in rt, whose matching streams are streams, or "" (see Publish);
// stale when rt is older than a binding this bus made.
func (b *Redis) unbound(topic string, rt *routes, streams []string) (group string, stale bool) {
	var subs [8]*redisSub
	for _, s := range b.local.match(topic, subs[:0]) {
		if contains(streams, s.stream) {
			continue
		}
		at := s.boundAt()
		if at.epoch == rt.ver.epoch && rt.ver.n < at.n {
			return "", true
		}
		// An ephemeral group is unbound by its own Unsubscribe only (or
		// reaped, when its process looked dead); a durable one also by
		// DeleteGroup, in the same epoch.
		if s.ephemeral || at.epoch != rt.ver.epoch {
			return s.group, false
		}
	}
	lost := b.reg.lost.Load()
	if lost == nil {
		return "", false
	}
	if time.Now().After(lost.until) {
		b.reg.lost.CompareAndSwap(lost, nil)
		return "", false
	}
	var before [8]string
	for _, st := range lost.rt.r.match(topic, before[:0]) {
		if !contains(streams, st) {
			return strings.TrimPrefix(st, b.base+"s:"), false
		}
	}
	return "", false
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
