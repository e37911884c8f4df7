package shortener

import (
	"context"
	"hash/maphash"
	"strconv"

	"github.com/sysdesign/patterns/cache"
)

// visitGates is the number of gates visit-takes queue at: one in flight per
// gate, codes spread over them by hash.
const visitGates = 64

// spentCapacity bounds how many used-up links an instance remembers, to
// answer their clicks without asking the counter.
const spentCapacity = 10_000

// visitGuard makes max_visits cheap under a burst: per process, takes of
// one link queue at a gate, so a burst of clicks sends one counter call at
// a time instead of a thousand (which would exhaust the connection pool and
// time out, and a timed-out take has an unknown outcome); once the count is
// used up the link is remembered as spent and later clicks are answered
// without the counter at all. Exactness comes from the counter's atomic
// take (a mutex, or one Lua script on Redis) across all instances; the gate
// only keeps the load sane.
type visitGuard struct {
	gates [visitGates]chan struct{}
	seed  maphash.Seed
	spent *cache.LRU[struct{}]
}

func newVisitGuard() (*visitGuard, error) {
	spent, err := cache.NewLRU[struct{}](spentCapacity)
	if err != nil {
		return nil, err
	}
	g := &visitGuard{seed: maphash.MakeSeed(), spent: spent}
	for i := range g.gates {
		g.gates[i] = make(chan struct{}, 1)
	}
	return g, nil
}

// visitID names one incarnation of a link: an alias deleted and created
// again starts counting afresh, even where the old count was not dropped.
func visitID(l Link) string {
	return l.Code + ":" + strconv.FormatInt(l.CreatedAt.UnixNano(), 36)
}

// takeVisit counts one visit of l: whether it is allowed, and whether it
// used the last one.
func (s *Server) takeVisit(ctx context.Context, l Link) (ok, last bool, err error) {
	id := visitID(l)
	g := s.visits
	if _, spent, _ := g.spent.Get(ctx, id); spent {
		return false, true, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	gate := g.gates[maphash.String(g.seed, id)%visitGates]
	select {
	case gate <- struct{}{}:
	case <-ctx.Done():
		return false, false, ctx.Err()
	}
	defer func() { <-gate }()
	if _, spent, _ := g.spent.Get(ctx, id); spent {
		return false, true, nil
	}
	ok, used, err := s.be.visits.take(ctx, id, l.MaxVisits)
	if err != nil {
		return false, false, err
	}
	if used >= l.MaxVisits {
		_ = g.spent.Set(ctx, id, struct{}{}, 0)
		last = true
	}
	return ok, last, nil
}
