package shortener

import (
	"context"
	"errors"
	"time"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
)

// lifecycleTimeout bounds the background write of an expired or exhausted
// event.
const lifecycleTimeout = 5 * time.Second

// validKey says whether s could be a code or an alias (aliasPattern,
// checked by hand: it runs on every redirect); anything else is answered
// 404 without a cache entry or a store read.
func validKey(s string) bool {
	if len(s) < 3 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// resolve answers a redirect: the link, or ErrNotFound, ErrGone or
// ErrUnavailable. A link with a visit limit takes its visit here, exactly
// once per successful call.
func (s *Server) resolve(ctx context.Context, code string) (Link, error) {
	if !validKey(code) {
		return Link{}, ErrNotFound
	}
	l, err := s.lookup(ctx, code)
	if err != nil {
		return l, err
	}
	now := s.cfg.Clock()
	if l.Status != StatusActive {
		return l, ErrGone
	}
	if l.ExpiresAt != nil && !now.Before(*l.ExpiresAt) {
		s.finish(code, EventLinkExpired)
		return l, ErrGone
	}
	if l.MaxVisits > 0 {
		ok, last, err := s.takeVisit(ctx, l)
		if err != nil {
			return l, s.unavailable("count visit", err)
		}
		if last {
			s.finish(code, EventLinkExhausted)
		}
		if !ok {
			return l, ErrGone
		}
	}
	return l, nil
}

// lookup finds the link of code through the resolution cache. On Redis,
// concurrent lookups of a code not in the local tier share one Redis read,
// and while Redis is down the local tier goes on answering for what it
// holds (cache.WithServeStaleWhileDetached, see newRedisBackend).
func (s *Server) lookup(ctx context.Context, code string) (Link, error) {
	l, err := s.resolver.Get(ctx, code)
	switch {
	case err == nil:
		return l, nil
	case errors.Is(err, cache.ErrNotFound):
		return Link{}, ErrNotFound
	}
	return Link{}, s.unavailable("resolve", err)
}

// finish records, in the background and once however many clicks see it,
// that a link expired or ran out of visits, so that the link table (and
// whoever reads the events) learns it too. Redirects do not wait for it:
// they already answer 410 from the link's own data.
func (s *Server) finish(code, eventType string) {
	if _, busy := s.finishing.LoadOrStore(code, eventType); busy {
		return
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		s.finishing.Delete(code)
		return
	}
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		defer s.finishing.Delete(code)
		ctx, cancel := context.WithTimeout(context.Background(), lifecycleTimeout)
		defer cancel()
		at, err := s.links.ExecuteWithPosition(ctx, code, func(st linkState) ([]cqrs.Event, error) {
			if !st.exists || st.Status != StatusActive {
				return nil, nil
			}
			return []cqrs.Event{cqrs.MustEvent(eventType, codeRef{Code: code})}, nil
		})
		if err != nil {
			s.cfg.Logger.Warn("lifecycle event not written", "code", code, "event", eventType, "err", err)
			return
		}
		s.settle(ctx, code, at.Position)
	}()
}

// remove deletes a link: ErrNotFound when there is none.
func (s *Server) remove(ctx context.Context, code string) error {
	if !validKey(code) {
		return ErrNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	var l Link
	at, err := s.links.ExecuteWithPosition(ctx, code, func(st linkState) ([]cqrs.Event, error) {
		if !st.exists || st.Status == StatusDeleted {
			return nil, ErrNotFound
		}
		l = st.Link
		return []cqrs.Event{cqrs.MustEvent(EventLinkDeleted, codeRef{Code: code})}, nil
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return s.unavailable("delete", err)
	}
	s.settle(ctx, code, at.Position)
	// The link is gone for readers now; what follows only tidies up, and a
	// create of the same URL copes with a release that was not written.
	if l.Dedup {
		_, err := s.dedup.Execute(ctx, dedupID(l.URL), func(st dedupState) ([]cqrs.Event, error) {
			if c, ok := st.lookup(l.URL); !ok || c != code {
				return nil, nil
			}
			return []cqrs.Event{cqrs.MustEvent(EventDedupReleased, dedupEntry{URL: l.URL, Code: code})}, nil
		})
		if err != nil {
			s.cfg.Logger.Warn("dedup release not written", "code", code, "err", err)
		}
	}
	if l.MaxVisits > 0 {
		if err := s.be.visits.drop(ctx, visitID(l)); err != nil {
			s.cfg.Logger.Warn("visit count not dropped", "code", code, "err", err)
		}
	}
	s.stats.deleted.Add(1)
	return nil
}

// link returns a link for the API (no visit taken): ErrNotFound or the link.
func (s *Server) link(ctx context.Context, code string) (Link, error) {
	if !validKey(code) {
		return Link{}, ErrNotFound
	}
	l, err := s.resolver.Get(ctx, code)
	switch {
	case errors.Is(err, cache.ErrNotFound):
		return Link{}, ErrNotFound
	case err != nil:
		return Link{}, s.unavailable("read", err)
	}
	if l.Status == StatusActive && l.ExpiresAt != nil && !s.cfg.Clock().Before(*l.ExpiresAt) {
		l.Status = StatusExpired
	}
	return l, nil
}
