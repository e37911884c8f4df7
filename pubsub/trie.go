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
// Matching visits only the trie nodes the topic can reach, each at most
// once per topic segment: its cost grows with the topic's length and the
// number of patterns the topic's prefixes match, not with the number of
// subscriptions nor exponentially with the "#"s in a pattern.
type router[T comparable] struct {
	mu      sync.Mutex
	root    atomic.Pointer[node[T]]
	scratch sync.Pool // *bigScratch[T], for matches with many active nodes
}

type node[T comparable] struct {
	lit   map[string]*node[T]
	star  *node[T] // "*": exactly one segment
	hash  *node[T] // "#": zero or more segments
	items []T      // subscriptions whose pattern ends here
	loop  bool     // n is a "#" node: it matches any segment and stays
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
		if c != nil {
			c.loop = true // c is a fresh copy (see update)
		}
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
		c.loop = true
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
	dst, _ = r.nodesCounted(topic, dst)
	return dst
}

// nodesCounted is nodes, also reporting the work done: how many times a
// trie node was visited (taken into or stepped from the active set).
//
// It matches the way one runs an NFA: the trie is the automaton, "#" nodes
// loop on every segment and are entered without consuming one (so the
// active set always holds, with each node, its "#" child). The topic is
// consumed one segment at a time, stepping the set of active nodes forward,
// each node at most once per step. So a match costs O(segments × active
// nodes), whatever the number of "#"s in a pattern or of subscriptions; the
// active nodes are those the topic's prefix reaches, not every subscription.
func (r *router[T]) nodesCounted(topic string, dst []*node[T]) ([]*node[T], int) {
	root := r.root.Load()
	if root == nil {
		return dst, 0
	}
	// The node sets live in locals, never behind a pointer, so that
	// escape analysis keeps the arrays on the stack.
	var a, b [scanMax]*node[T]
	cur, next := a[:0], b[:0]
	st := matchState[T]{pool: &r.scratch}
	st.begin()
	next = st.add(next, cur, root)
	for rest, done := topic, false; !done; {
		seg := rest
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			done = true
		}
		cur, next = next, cur[:0]
		st.begin()
		for _, n := range cur {
			st.visits++
			if n.loop {
				next = st.add(next, cur, n) // "#" takes this segment too
			}
			if c := n.lit[seg]; c != nil {
				next = st.add(next, cur, c)
			}
			if n.star != nil {
				next = st.add(next, cur, n.star)
			}
		}
		if len(next) == 0 {
			break
		}
	}
	for _, n := range next {
		if len(n.items) > 0 {
			dst = append(dst, n)
		}
	}
	st.release()
	return dst, st.visits
}

// scanMax is how many active nodes a match keeps on the stack; past it,
// it takes pooled slices and deduplicates "#" nodes with a map.
const scanMax = 16

// matchState is one match's bookkeeping. The active node sets, before
// (cur) and after (next) a segment, are on the caller's stack while they
// are small, so that matching does not allocate; larger sets move to a
// pooled bigScratch.
type matchState[T comparable] struct {
	visits int
	mapped bool // this step's "#" nodes are stamped in big.seen
	big    *bigScratch[T]
	pool   *sync.Pool
}

// bigScratch is the memory of matches with many active nodes: two arrays
// for the node sets and a generation-stamped set of the "#" nodes in next.
type bigScratch[T comparable] struct {
	x, y []*node[T]
	seen map[*node[T]]uint32
	gen  uint32
}

// begin starts a step: next is empty and nothing in it is stamped.
func (st *matchState[T]) begin() {
	st.mapped = false
	if b := st.big; b != nil {
		b.gen++
		if b.gen == 0 { // wrapped: old stamps could collide
			clear(b.seen)
			b.gen = 1
		}
	}
}

// add appends n to next with its "#" child (the empty match of "#"),
// once, and returns next. Only "#" nodes can be reached twice in a step
// (from themselves and from their parent); any other node has one way in,
// from its parent, which is in cur once.
func (st *matchState[T]) add(next, cur []*node[T], n *node[T]) []*node[T] {
	for ; n != nil; n = n.hash {
		st.visits++
		if n.loop {
			if !st.mapped && len(next) >= scanMax {
				b := st.take()
				for _, x := range next {
					if x.loop {
						b.seen[x] = b.gen
					}
				}
				st.mapped = true
			}
			if st.mapped {
				if st.big.seen[n] == st.big.gen {
					return next
				}
				st.big.seen[n] = st.big.gen
			} else if containsNode(next, n) {
				return next
			}
		}
		if len(next) == cap(next) {
			next = st.grow(next, cur)
		}
		next = append(next, n)
	}
	return next
}

// take returns the match's pooled memory, taking it from the pool first.
func (st *matchState[T]) take() *bigScratch[T] {
	if st.big == nil {
		st.big, _ = st.pool.Get().(*bigScratch[T])
		if st.big == nil {
			st.big = &bigScratch[T]{seen: make(map[*node[T]]uint32)}
		}
		st.big.gen++
		if st.big.gen == 0 {
			st.big.gen = 1
		}
	}
	return st.big
}

// grow returns a copy of the full next with room for as many again, in
// a pooled array that is not cur's. Every array a match allocates is
// made here and kept in bigScratch, so the pool reuses it.
func (st *matchState[T]) grow(next, cur []*node[T]) []*node[T] {
	b := st.take()
	t := &b.x
	if cap(cur) > 0 && cap(b.x) > 0 && &cur[:1][0] == &b.x[:1][0] {
		t = &b.y
	}
	if want := 2 * max(len(next), scanMax); cap(*t) < want {
		*t = make([]*node[T], 0, want)
	}
	return append((*t)[:0], next...)
}

// release returns pooled memory, first dropping its references to the
// trie (the pool must not keep an old snapshot alive).
func (st *matchState[T]) release() {
	b := st.big
	if b == nil {
		return
	}
	st.big = nil
	if cap(b.x) > 1<<12 || cap(b.y) > 1<<12 {
		return // do not pool a freak's memory
	}
	clear(b.x[:cap(b.x)])
	clear(b.y[:cap(b.y)])
	clear(b.seen)
	st.pool.Put(b)
}

func containsNode[T comparable](s []*node[T], n *node[T]) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

// Match reports whether topic matches pattern; it is false when either is
// malformed. It takes O(pattern segments × topic segments) time.
func Match(pattern, topic string) bool {
	if ValidatePattern(pattern) != nil || ValidateTopic(topic) != nil {
		return false
	}
	return matchSegs(strings.Split(pattern, "."), strings.Split(topic, "."))
}

// matchSegs matches by dynamic programming over pattern prefixes: ok[j]
// reports whether the pattern consumed so far matches the topic's first j
// segments.
func matchSegs(pattern, topic []string) bool {
	ok := make([]bool, len(topic)+1)
	ok[0] = true
	for _, p := range pattern {
		switch p {
		case "#": // ok[j] if some ok[i], i <= j
			for j := 1; j <= len(topic); j++ {
				ok[j] = ok[j] || ok[j-1]
			}
		default:
			for j := len(topic); j >= 1; j-- {
				ok[j] = ok[j-1] && (p == "*" || p == topic[j-1])
			}
			ok[0] = false
		}
	}
	return ok[len(topic)]
}
