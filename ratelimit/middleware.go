package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

// NewMiddleware returns HTTP middleware that limits requests by key, or an
// error wrapping ErrInvalidConfig for a nil limiter or a bad option.
//
// key maps a request to its limiter key; nil means the client IP (see
// ClientIP, configured by the ClientIPOptions WithTrustedProxies,
// WithProxyHeader and WithIPv6Prefix). A key of "" exempts the request,
// as WithSkip does: it is passed on unlimited and without RateLimit
// fields (e.g. for health checks).
//
// Every limited response carries the RateLimit and RateLimit-Policy header
// fields of the IETF httpapi draft (see writeFields), and the
// legacy X-RateLimit-* set with WithLegacyHeaders. A denied request is answered
// 429 Too Many Requests with Retry-After in whole seconds rounded up, so a
// client that waits that long is allowed (if nothing else used the quota
// meanwhile), or as WithOnDeny says. A LeakyBucket Decision.Delay is waited out
// before the request goes on; if the request's context ends first, it is
// answered 503 and goes no further. Limiter errors are handled as
// WithOnError says; by default the request goes on unlimited, as the wrappers
// (FailOpen, FailClosed, Fallback) are the place to choose otherwise.
// ErrTooManyKeys is not such an error but a denial of that one new key: it
// is answered as a denial, with "X-RateLimit-Reason: too-many-keys", and
// reported to WithOnTooManyKeys.
func NewMiddleware(l Limiter, key func(*http.Request) string, opts ...MiddlewareOption) (func(http.Handler) http.Handler, error) {
	m, err := newMiddleware(l, key, opts)
	if err != nil {
		return nil, err
	}
	return m.wrap, nil
}

// Middleware is NewMiddleware for configuration that cannot fail, such as
// constant options, used inline: mux.Handle("/", Middleware(l, nil)(h)).
// It never panics. Invalid configuration makes every request fail loudly
// rather than go unlimited: each is answered 500 Internal Server Error
// (after the WithOnError handler, if one was configured, sees the error and
// may answer instead). Call NewMiddleware to get the error at start-up.
func Middleware(l Limiter, key func(*http.Request) string, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	m, err := newMiddleware(l, key, opts)
	if err != nil {
		return func(http.Handler) http.Handler { return &misconfigured{err: err, onError: m.onError} }
	}
	return m.wrap
}

// The header field that tells a client denied for want of room in the key
// table (ErrTooManyKeys) from one denied by its own limit.
const (
	reasonHeader      = "X-RateLimit-Reason"
	reasonTooManyKeys = "too-many-keys"
)

// middleware is a validated configuration; immutable, so one serves any
// number of handlers and concurrent requests.
type middleware struct {
	limiter Limiter
	key     func(*http.Request) string
	policy  string // quoted, ready for the header fields
	legacy  bool
	skip    func(*http.Request) bool // WithSkip
	onDeny  func(w http.ResponseWriter, r *http.Request, d Decision)
	onError func(w http.ResponseWriter, r *http.Request, err error) bool
	onFull  func(r *http.Request, key string) // WithOnTooManyKeys

	policies atomic.Pointer[policyFields] // of the last decision's limit
}

// newMiddleware applies every option, even after one fails, so that an
// WithOnError handler can see the error whatever the order of the options; it
// returns the first error.
func newMiddleware(l Limiter, key func(*http.Request) string, opts []MiddlewareOption) (*middleware, error) {
	cfg := middlewareConfig{policy: DefaultPolicyName}
	var errs []error
	for _, opt := range opts {
		if opt == nil {
			errs = append(errs, fmt.Errorf("%w: nil MiddlewareOption", ErrInvalidConfig))
			continue
		}
		if err := opt.applyMiddleware(&cfg); err != nil {
			errs = append(errs, err)
		}
	}
	m := &middleware{limiter: l, key: key, policy: sfString(cfg.policy), legacy: cfg.legacy,
		skip: cfg.skip, onDeny: cfg.onDeny, onError: cfg.onError, onFull: cfg.onFull}
	if isNil(l) {
		errs = append(errs, fmt.Errorf("%w: Middleware: nil Limiter", ErrInvalidConfig))
	}
	if key != nil && cfg.ip.given() {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalidConfig, errIPOptionsWithKey))
	}
	if key == nil {
		ip, err := cfg.ip.build()
		if err != nil && cfg.ip.given() {
			errs = append(errs, err) // an invalid proxy list is in errs already; the first error wins
		}
		m.key = ip.key
	}
	if len(errs) > 0 {
		return m, errs[0]
	}
	return m, nil
}

func (m *middleware) wrap(next http.Handler) http.Handler {
	if next == nil {
		return &misconfigured{err: fmt.Errorf("%w: Middleware: nil next handler", ErrInvalidConfig), onError: m.onError}
	}
	return &limitHandler{m: m, next: next}
}

// limitHandler is the middleware applied to one handler.
type limitHandler struct {
	m    *middleware
	next http.Handler
}

// ServeHTTP asks the limiter, writes the fields, and answers or waits.
func (h *limitHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	if m.skip != nil && m.skip(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	key := m.key(r)
	if key == "" {
		h.next.ServeHTTP(w, r)
		return
	}
	d, err := m.limiter.Allow(r.Context(), key)
	if err != nil {
		if !errors.Is(err, ErrTooManyKeys) {
			if m.onError != nil && m.onError(w, r, err) {
				return
			}
			h.next.ServeHTTP(w, r)
			return
		}
		// A full key table refused this new client: deny it, say why, and
		// leave every other client to the limiter's own answers.
		d.Allowed = false
		w.Header().Set(reasonHeader, reasonTooManyKeys)
		if m.onFull != nil {
			m.onFull(r, key)
		}
	}
	m.writeFields(w.Header(), d)
	if !d.Allowed {
		if m.onDeny != nil {
			m.onDeny(w, r, d)
			return
		}
		http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
		return
	}
	if d.Delay > 0 && !wait(r, d.Delay) {
		// The client left or the server is shutting down: the request
		// would not be served in time, so it must not be served late.
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	h.next.ServeHTTP(w, r)
}

// wait sleeps for d unless r's context ends first; it reports whether the
// full delay passed.
func wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// misconfigured answers every request of a Middleware whose configuration
// is invalid.
type misconfigured struct {
	err     error
	onError func(w http.ResponseWriter, r *http.Request, err error) bool
}

// ServeHTTP refuses the request: WithOnError's answer, or 500.
func (h *misconfigured) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.onError != nil && h.onError(w, r, h.err) {
		return
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
