package shortener

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/sysdesign/patterns/ratelimit"
)

// routes builds the handler: the mux, with the create limit on the create
// routes and the redirect limit on resolution, and JSON for the mux's own
// 404 and 405.
func (s *Server) routes() (http.Handler, error) {
	var ipOpts []ratelimit.ClientIPOption
	if len(s.cfg.TrustedProxies) > 0 {
		ipOpts = append(ipOpts, ratelimit.WithTrustedProxies(s.cfg.TrustedProxies...))
	}
	clientIP, err := ratelimit.ClientIP(ipOpts...)
	if err != nil {
		return nil, err
	}
	limited := func(name string, perMinute int, leased bool) (func(http.Handler) http.Handler, error) {
		limit := ratelimit.PerMinute(perMinute)
		l, err := s.be.limiter(name, limit)
		if err == nil && leased {
			l, err = ratelimit.NewLeased(l, limit, ratelimit.WithClock(s.cfg.Clock))
		}
		if err != nil {
			return nil, err
		}
		return ratelimit.NewMiddleware(l, clientIP, ratelimit.WithPolicyName(name),
			ratelimit.WithOnDeny(func(w http.ResponseWriter, _ *http.Request, d ratelimit.Decision) {
				writeError(w, &apiError{Status: http.StatusTooManyRequests,
					Message: "too many requests from this address; retry after " + d.RetryAfter.Round(time.Second).String()})
			}))
	}
	createLimit, err := limited("create", s.cfg.CreateRate, false)
	if err != nil {
		return nil, err
	}
	// On Redis the redirect limit is spent in leases (ratelimit.Leased): a
	// Redis call per lease of up to 64 redirects of a client, not per
	// redirect. Creates are few and their limit is tight: exact per call.
	redirectLimit, err := limited("redirect", s.cfg.RedirectRate, s.cfg.Redis != nil)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/links", createLimit(http.HandlerFunc(s.handleCreate)))
	mux.HandleFunc("GET /api/links/{code}", s.handleGet)
	mux.HandleFunc("GET /api/links/{code}/stats", s.handleStats)
	mux.HandleFunc("DELETE /api/links/{code}", s.requireKey(s.handleDelete))
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.Handle("GET /{code}", redirectLimit(http.HandlerFunc(s.handleRedirect)))
	if err := s.mountPages(mux, createLimit); err != nil {
		return nil, err
	}
	mux.HandleFunc("/", unmatched(mux))
	return mux, nil
}

// unmatched answers requests no other route matches, in JSON: 405 with
// Allow when the path has routes for other methods, else 404. It is the
// mux's catch-all, so a matched request costs one routing, not two.
func unmatched(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Message: "method " + r.Method + " is not allowed here"})
			return
		}
		writeError(w, &apiError{Status: http.StatusNotFound, Message: "nothing here"})
	}
}

// healthJSON is the answer of GET /healthz.
type healthJSON struct {
	Status string `json:"status"`
	Store  string `json:"store"`
	Redis  string `json:"redis,omitempty"`
}

// handleHealth answers 200 while the process serves: with Redis down it
// still redirects cached links, so taking it out of rotation would only
// make things worse. The body says whether Redis answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := healthJSON{Status: "ok", Store: "memory"}
	if s.cfg.Redis != nil {
		h.Store, h.Redis = "redis", "ok"
		ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
		defer cancel()
		if err := s.be.ping(ctx); err != nil {
			h.Redis = "unreachable: " + err.Error()
		}
	}
	writeJSON(w, http.StatusOK, h)
}
