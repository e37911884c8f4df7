package shortener

import (
	"context"
	"net/http"
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
	limited := func(name string, perMinute int) (func(http.Handler) http.Handler, error) {
		l, err := s.be.limiter(name, ratelimit.PerMinute(perMinute))
		if err != nil {
			return nil, err
		}
		return ratelimit.NewMiddleware(l, clientIP, ratelimit.WithPolicyName(name),
			ratelimit.WithOnDeny(func(w http.ResponseWriter, _ *http.Request, d ratelimit.Decision) {
				writeError(w, &apiError{Status: http.StatusTooManyRequests,
					Message: "too many requests from this address; retry after " + d.RetryAfter.Round(time.Second).String()})
			}))
	}
	createLimit, err := limited("create", s.cfg.CreateRate)
	if err != nil {
		return nil, err
	}
	redirectLimit, err := limited("redirect", s.cfg.RedirectRate)
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
	return jsonFallback(mux), nil
}

// jsonFallback answers requests no route matches with a JSON error of the
// status the mux chose (404, or 405 with Allow).
func jsonFallback(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusOnly{header: w.Header()}
		mux.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusNotFound
		}
		writeError(w, &apiError{Status: rec.status, Message: http.StatusText(rec.status)})
	})
}

// statusOnly keeps the status and headers a handler writes, not its body.
type statusOnly struct {
	header http.Header
	status int
}

func (s *statusOnly) Header() http.Header { return s.header }
func (s *statusOnly) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}
func (s *statusOnly) Write(b []byte) (int, error) { s.WriteHeader(http.StatusOK); return len(b), nil }

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
