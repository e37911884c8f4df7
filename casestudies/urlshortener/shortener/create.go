package shortener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/sysdesign/patterns/casestudies/urlshortener/codes"
	"github.com/sysdesign/patterns/casestudies/urlshortener/urlcheck"
	"github.com/sysdesign/patterns/cqrs"
)

// CreateRequest is a link to create.
type CreateRequest struct {
	URL       string
	Alias     string        // "" for a generated code
	ExpiresIn time.Duration // 0: never
	MaxVisits int64         // 0: unlimited
}

// statusFresh marks, between createDeduplicated and its caller only, a
// link this request created.
const statusFresh Status = "fresh"

// aliasPattern is what a custom alias may look like.
var aliasPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{3,32}$`)

// reserved are the first path segments the service uses itself, or may.
var reserved = map[string]bool{
	"api": true, "healthz": true, "static": true, "admin": true, "assets": true,
	"login": true, "logout": true, "metrics": true, "debug": true, "robots": true,
	"favicon": true, "stats": true, "new": true, "www": true,
}

// checkAlias refuses aliases of the wrong shape, reserved words, and aliases
// shaped like a generated code (7 letters and digits), which keeps aliases
// and generated codes apart: a generated code is then always free and never
// needs a retry.
func checkAlias(a string) *apiError {
	switch {
	case !aliasPattern.MatchString(a):
		return badField("alias", "alias must be 3 to 32 characters of A-Z, a-z, 0-9, '_' and '-'")
	case reserved[strings.ToLower(a)]:
		return badField("alias", fmt.Sprintf("alias %q is reserved", a))
	case codes.IsCode(a):
		return badField("alias", "an alias of exactly 7 letters and digits could clash with generated codes: use another length or add '-' or '_'")
	}
	return nil
}

// Create validates req and stores the link. It returns the link and whether
// it is new: a request without alias, expiry or visit limit for a URL that
// already has such a link returns that link, not new. Errors: *apiError for
// bad input and a taken alias, ErrUnavailable when the store does not answer
// within Config.WriteTimeout.
func (s *Server) create(ctx context.Context, req CreateRequest) (Link, bool, error) {
	norm, err := s.check.Check(req.URL)
	if err != nil {
		var ue *urlcheck.Error
		if errors.As(err, &ue) {
			return Link{}, false, badField("url", "url "+ue.Reason)
		}
		return Link{}, false, badField("url", err.Error())
	}
	if req.Alias != "" {
		if e := checkAlias(req.Alias); e != nil {
			return Link{}, false, e
		}
	}
	if req.ExpiresIn < 0 || req.ExpiresIn > s.cfg.MaxExpiresIn {
		return Link{}, false, badField("expires_in", fmt.Sprintf("expires_in must be positive and at most %v", s.cfg.MaxExpiresIn))
	}
	if req.MaxVisits < 0 || req.MaxVisits > MaxVisitsLimit {
		return Link{}, false, badField("max_visits", fmt.Sprintf("max_visits must be between 1 and %d", MaxVisitsLimit))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
	defer cancel()
	now := s.cfg.Clock().UTC()
	l := Link{URL: norm, CreatedAt: now, MaxVisits: req.MaxVisits, Status: StatusActive}
	if req.ExpiresIn > 0 {
		at := now.Add(req.ExpiresIn)
		l.ExpiresAt = &at
	}
	var created bool
	var pos int64 // of the link's last event, to wait for in the link table
	if req.Alias == "" && req.ExpiresIn == 0 && req.MaxVisits == 0 {
		l.Dedup = true
		var shared bool
		var c createdLink
		c, shared, err = s.creates.do(ctx, norm, func(ctx context.Context) (createdLink, error) {
			l, fresh, pos, err := s.createDeduplicated(ctx, l)
			if err == nil && fresh {
				l.Status = statusFresh // tells the first caller it created the link
			}
			return createdLink{l, pos}, err
		})
		l, pos = c.link, c.pos
		created = !shared && l.Status == statusFresh
		l.Status = StatusActive
	} else {
		created = true
		if l.Code = req.Alias; l.Code == "" {
			l.Code, err = s.newCode(ctx)
		}
		if err == nil {
			pos, err = s.appendCreated(ctx, l)
		}
		if errors.Is(err, errCodeTaken) && req.Alias != "" {
			return Link{}, false, &apiError{Status: http.StatusConflict, Message: fmt.Sprintf("alias %q is taken", req.Alias), Field: "alias"}
		}
	}
	if err != nil {
		return Link{}, false, s.unavailable("create", err)
	}
	s.settle(ctx, l.Code, pos)
	if created {
		s.stats.created.Add(1)
	} else {
		s.stats.deduplicated.Add(1)
	}
	return l, created, nil
}

// createDeduplicated returns the code the dedup index holds for l.URL, or
// claims a new one there and creates its link. The claim comes first: a
// crash or outage between claim and link leaves a claim without link, which
// the next create of the URL completes.
// It also returns the position of the link's last event.
func (s *Server) createDeduplicated(ctx context.Context, l Link) (Link, bool, int64, error) {
	id := dedupID(l.URL)
	var fresh string // a code drawn for this request, kept across conflict retries
	var stale string // a code whose link was deleted but whose claim remained
	for attempt := 0; attempt < 3; attempt++ {
		var found string
		_, err := s.dedup.Execute(ctx, id, func(st dedupState) ([]cqrs.Event, error) {
			found = ""
			code, ok := st.lookup(l.URL)
			if ok && code != stale {
				found = code
				return nil, nil
			}
			if fresh == "" {
				var err error
				if fresh, err = s.newCode(ctx); err != nil {
					return nil, err
				}
			}
			var evs []cqrs.Event
			if ok {
				evs = append(evs, cqrs.MustEvent(EventDedupReleased, dedupEntry{URL: l.URL, Code: code}))
			}
			return append(evs, cqrs.MustEvent(EventDedupClaimed, dedupEntry{URL: l.URL, Code: fresh})), nil
		})
		if err != nil {
			return Link{}, false, 0, err
		}
		if found == "" { // claimed fresh: create its link
			l.Code = fresh
			pos, err := s.appendCreated(ctx, l)
			if errors.Is(err, errCodeTaken) {
				_, pos, err = s.linkAt(ctx, fresh)
			}
			if err != nil {
				return Link{}, false, 0, err
			}
			return l, true, pos, nil
		}
		st, pos, err := s.linkAt(ctx, found)
		if err != nil {
			return Link{}, false, 0, err
		}
		switch {
		case st.exists && st.Status == StatusActive:
			return st.Link, false, pos, nil
		case !st.exists: // a claim whose link was never written: complete it
			l.Code = found
			pos, err := s.appendCreated(ctx, l)
			if errors.Is(err, errCodeTaken) { // completed by a concurrent create
				if st, pos, err = s.linkAt(ctx, found); err == nil {
					return st.Link, false, pos, nil
				}
			}
			return l, false, pos, err
		default: // deleted, and its release was never written: claim anew
			stale = found
		}
	}
	return Link{}, false, 0, errors.New("deduplication index kept changing")
}

// createdLink is what a create shared by concurrent callers gives them:
// the link, and the position of its last event.
type createdLink struct {
	link Link
	pos  int64
}

// linkAt returns a link's state and the position of its last event (0:
// none), so that a caller can wait for the link table to show it.
func (s *Server) linkAt(ctx context.Context, code string) (linkState, int64, error) {
	var st linkState
	at, err := s.links.ExecuteWithPosition(ctx, code, func(cur linkState) ([]cqrs.Event, error) {
		st = cur
		return nil, nil
	})
	return st, at.Position, err
}

// appendCreated writes a link's first event and returns its position;
// errCodeTaken when the code is taken.
func (s *Server) appendCreated(ctx context.Context, l Link) (int64, error) {
	at, err := s.links.ExecuteWithPosition(ctx, l.Code, func(st linkState) ([]cqrs.Event, error) {
		if st.exists {
			return nil, errCodeTaken
		}
		return []cqrs.Event{cqrs.MustEvent(EventLinkCreated, l)}, nil
	})
	if errors.Is(err, cqrs.ErrConflict) {
		return 0, errCodeTaken
	}
	return at.Position, err
}

// errCodeTaken: a link with this code exists already.
var errCodeTaken = errors.New("code is taken")

// newCode draws the next counter value and maps it to a code.
func (s *Server) newCode(ctx context.Context) (string, error) {
	n, err := s.be.counter(ctx)
	if err != nil {
		return "", err
	}
	return s.gen.Load().Code(n)
}

// settle makes a write visible to reads: the link table catches up to pos
// (the position of code's last event), and the resolution cache drops what
// it held for code (a negative entry from a probe before an alias existed,
// or the link before a delete) — on every instance, with a Tiered cache. A
// projection that is slow to catch up only delays visibility: the write
// itself is done.
func (s *Server) settle(ctx context.Context, code string, pos int64) {
	if err := s.project(ctx, pos); err != nil {
		s.cfg.Logger.Warn("link table is behind", "code", code, "err", err)
	}
	if err := s.resolver.Invalidate(context.WithoutCancel(ctx), code); err != nil {
		s.cfg.Logger.Warn("cache invalidation failed", "code", code, "err", err)
	}
}

// unavailable turns a store failure into ErrUnavailable (logging the cause),
// passing *apiError through.
func (s *Server) unavailable(op string, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	s.stats.storeErrors.Add(1)
	s.cfg.Logger.Warn("store failed", "op", op, "err", err)
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, op, err)
}
