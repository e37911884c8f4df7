package shortener

import "sync/atomic"

// ServerStats counts what a Server did since New.
type ServerStats struct {
	Created, Deduplicated, Deleted uint64
	Redirects, NotFound, Gone      uint64
	// StoreErrors counts requests answered 503 because the store failed.
	StoreErrors uint64
	// ClickErrors counts clicks analytics refused or dropped.
	ClickErrors uint64
}

type counters struct {
	created, deduplicated, deleted atomic.Uint64
	redirects, notFound, gone      atomic.Uint64
	storeErrors, clickErrors       atomic.Uint64
}

// Stats returns the Server's counters; lock-free.
func (s *Server) Stats() ServerStats {
	c := &s.stats
	return ServerStats{
		Created: c.created.Load(), Deduplicated: c.deduplicated.Load(), Deleted: c.deleted.Load(),
		Redirects: c.redirects.Load(), NotFound: c.notFound.Load(), Gone: c.gone.Load(),
		StoreErrors: c.storeErrors.Load(), ClickErrors: c.clickErrors.Load(),
	}
}
