package pubsub

import (
	"strings"
	"sync"
	"sync/atomic"
)

// router maps patterns to values (subscriptions' queues in memory, groups
// on Redis). Readers match against an immutable snapshot taken with one
// atomic load, so Publish takes no lock; writers serialise on a mutex and
// publish a new snapshot that shares every node off the changed path
// (copy-on-write), so subscribing never blocks publishers.
//
// Matching visits only the trie nodes the topic can reach: its cost grows
// with the topic's length and the number of matches, not with the number of
// subscriptions.
type router[T comparable] struct {
	mu   sync.Mutex
	root atomic.Pointer[node[T]]
}

type node[T comparable] struct {
	lit   map[string]*node[T]
	star  *node[T] // "*": exactly one segment
	hash  *node[T] // "#": zero or more segments
	items []T      // subscriptions whose pattern ends here
}

func (n *node[T]) empty() bool {
	return n == nil || (len(n.lit) == 0 && n.star == nil && n.hash == nil && len(n.items) == 0)
}

func (n *node[T]) clone() *node[T] {
	if n == nil {
		return &node[T]{}
	}
	c := *n
	if n.lit != nil {
		c.lit = make(map[string]*node[T], len(n.lit)+1)
		for k, v := range n.lit {
			c.lit[k] = v
		}
	}
	c.items = append([]T(nil), n.items...)
	return &c
}

// child returns n's child for segment seg.
func (n *node[T]) child(seg string) *node[T] {
	if n == nil {
		return nil
	}
	switch seg {
	case "*":
		return n.star
	case "#":
		return n.hash
	}
	return n.lit[seg]
}

// withChild returns a copy of n whose child for seg is c (removed when c
// is empty).
func (n *node[T]) withChild(seg string, c *node[T]) *node[T] {
	cp := n.clone()
	if c.empty() {
		c = nil
	}
	switch seg {
	case "*":
		cp.star = c
	case "#":
		cp.hash = c
	default:
		if c == nil {
			delete(cp.lit, seg)
		} else {
			if cp.lit == nil {
				cp.lit = make(map[string]*node[T], 1)
			}
			cp.lit[seg] = c
		}
	}
	return cp
}

// add binds v to a valid pattern.
func (r *router[T]) add(pattern string, v T) {
	r.update(pattern, func(n *node[T]) *node[T] {
		c := n.clone()
		c.items = append(c.items, v)
		return c
	})
}

// remove unbinds v from pattern; it reports whether v was bound there.
func (r *router[T]) remove(pattern string, v T) bool {
	found := false
	r.update(pattern, func(n *node[T]) *node[T] {
		c := n.clone()
		for i, x := range c.items {
			if x == v {
				c.items = append(c.items[:i], c.items[i+1:]...)
				found = true
				break
			}
		}
		return c
	})
	return found
}

// replace swaps the whole trie for one built from bindings (pattern → values).
func (r *router[T]) replace(bindings map[string][]T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	root := &node[T]{}
	for p, vs := range bindings {
		for _, v := range vs {
			root = insert(root, strings.Split(normalizePattern(p), "."), v)
		}
	}
	r.root.Store(root)
}

func insert[T comparable](n *node[T], segs []string, v T) *node[T] {
	if len(segs) == 0 {
		n.items = append(n.items, v)
		return n
	}
	c := n.child(segs[0])
	if c == nil {
		c = &node[T]{}
	}
	c = insert(c, segs[1:], v)
	switch segs[0] {
	case "*":
		n.star = c
	case "#":
		n.hash = c
	default:
		if n.lit == nil {
			n.lit = make(map[string]*node[T])
		}
		n.lit[segs[0]] = c
	}
	return n
}

func (r *router[T]) update(pattern string, leaf func(*node[T]) *node[T]) {
	segs := strings.Split(normalizePattern(pattern), ".")
	r.mu.Lock()
	defer r.mu.Unlock()
	var rec func(n *node[T], i int) *node[T]
	rec = func(n *node[T], i int) *node[T] {
		if i == len(segs) {
			return leaf(n)
		}
		return n.withChild(segs[i], rec(n.child(segs[i]), i+1))
	}
	root := rec(r.root.Load(), 0)
	if root.empty() {
		root = nil
	}
	r.root.Store(root)
}

// match appends to dst the values bound to patterns matching topic (a
// valid topic), each once, and returns dst. It allocates only if dst must
// grow.
func (r *router[T]) match(topic string, dst []T) []T {
	var stack [16]*node[T]
	for _, n := range r.nodes(topic, stack[:0]) {
		dst = append(dst, n.items...)
	}
	return dst
}

// nodes appends to dst the trie nodes whose patterns match topic, each
// once; their items are the matching values.
func (r *router[T]) nodes(topic string, dst []*node[T]) []*node[T] {
	root := r.root.Load()
	if root == nil {
		return dst
	}
	return root.walk(topic, false, dst)
}

// walk appends the nodes reached when rest (the unmatched part of the
// topic; done when none is left) is matched from n. A node reachable in
// several ways (patterns with more than one "#") is appended once.
func (n *node[T]) walk(rest string, done bool, acc []*node[T]) []*node[T] {
	if done {
		if len(n.items) > 0 && !containsNode(acc, n) {
			acc = append(acc, n)
		}
		if n.hash != nil {
			acc = n.hash.walk("", true, acc)
		}
		return acc
	}
	seg, next, last := rest, "", true
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		seg, next, last = rest[:i], rest[i+1:], false
	}
	if c := n.lit[seg]; c != nil {
		acc = c.walk(next, last, acc)
	}
	if n.star != nil {
		acc = n.star.walk(next, last, acc)
	}
	if h := n.hash; h != nil {
		// "#" swallows zero, one, two, … of the remaining segments.
		r, d := rest, false
		for {
			acc = h.walk(r, d, acc)
			if d {
				break
			}
			if i := strings.IndexByte(r, '.'); i >= 0 {
				r = r[i+1:]
			} else {
				r, d = "", true
			}
		}
	}
	return acc
}

func containsNode[T comparable](s []*node[T], n *node[T]) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

// matchNaive is the reference matcher the trie is tested against: pattern
// and topic as segment lists, by recursion on the definition.
func matchNaive(pattern, topic []string) bool {
	if len(pattern) == 0 {
		return len(topic) == 0
	}
	switch pattern[0] {
	case "#":
		for k := 0; k <= len(topic); k++ {
			if matchNaive(pattern[1:], topic[k:]) {
				return true
			}
		}
		return false
	case "*":
		return len(topic) > 0 && matchNaive(pattern[1:], topic[1:])
	}
	return len(topic) > 0 && topic[0] == pattern[0] && matchNaive(pattern[1:], topic[1:])
}

// Match reports whether topic matches pattern; it is false when either is
// malformed.
func Match(pattern, topic string) bool {
	if ValidatePattern(pattern) != nil || ValidateTopic(topic) != nil {
		return false
	}
	return matchNaive(strings.Split(pattern, "."), strings.Split(topic, "."))
}
