package ratelimit

import (
	"fmt"
	"net/http"
)

// DefaultPolicyName is the policy name of the RateLimit header fields
// unless WithPolicyName says otherwise.
const DefaultPolicyName = "default"

// MiddlewareOption configures Middleware and NewMiddleware. Sealed like
// MemoryOption; the ClientIPOptions are MiddlewareOptions too.
type MiddlewareOption interface {
	applyMiddleware(*middlewareConfig) error
}

type middlewareOption func(*middlewareConfig) error

func (f middlewareOption) applyMiddleware(c *middlewareConfig) error { return f(c) }

type middlewareConfig struct {
	ip      ipConfig // for the default key
	legacy  bool
	policy  string
	skip    func(*http.Request) bool
	onDeny  func(w http.ResponseWriter, r *http.Request, d Decision)
	onError func(w http.ResponseWriter, r *http.Request, err error) bool
	onFull  func(r *http.Request, key string)
}

// WithSkip exempts the requests for which skip returns true: they go on to
// the next handler unlimited, without RateLimit fields, and the limiter is
// not asked (nothing is spent). For health checks and the like:
//
//	ratelimit.WithSkip(func(r *http.Request) bool { return r.URL.Path == "/healthz" })
//
// A key function returning "" exempts a request the same way.
func WithSkip(skip func(*http.Request) bool) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) error {
		if skip == nil {
			return fmt.Errorf("%w: WithSkip(nil)", ErrInvalidConfig)
		}
		c.skip = skip
		return nil
	})
}

// WithLegacyHeaders adds X-RateLimit-Limit (Rate), X-RateLimit-Remaining
// and X-RateLimit-Reset (seconds from now, rounded up, like the RateLimit
// field's t; not a Unix time) to every limited response, for clients
// written against those de facto headers.
func WithLegacyHeaders() MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) error {
		c.legacy = true
		return nil
	})
}

// WithPolicyName sets the policy name in the RateLimit and
// RateLimit-Policy fields (default DefaultPolicyName). Give each
// middleware its own name when you stack several (per IP, per user): each
// adds its own list member, so the client sees every policy.
func WithPolicyName(name string) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) error {
		if name == "" {
			return fmt.Errorf("%w: WithPolicyName(\"\")", ErrInvalidConfig)
		}
		for i := 0; i < len(name); i++ {
			// A Structured Fields String holds printable ASCII only.
			if name[i] < 0x20 || name[i] > 0x7e {
				return fmt.Errorf("%w: WithPolicyName(%q): printable ASCII only", ErrInvalidConfig, name)
			}
		}
		c.policy = name
		return nil
	})
}

// WithOnDeny replaces the default answer to a denied request (429 Too Many
// Requests, text/plain). f writes the whole response, status included, and
// is called with the Retry-After and RateLimit header fields already set,
// so a custom body (JSON, an RFC 9457 problem) needs nothing else.
func WithOnDeny(f func(w http.ResponseWriter, r *http.Request, d Decision)) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) error {
		if f == nil {
			return fmt.Errorf("%w: WithOnDeny(nil)", ErrInvalidConfig)
		}
		c.onDeny = f
		return nil
	})
}

// WithOnError handles what the middleware cannot decide: an error from the
// limiter (a bare Redis limiter's outage, a client that went away mid-call,
// a misconfigured wrapper; not ErrTooManyKeys, which is a denial, see
// WithOnTooManyKeys) and Middleware's own configuration error. f either
// answers the request and returns true, or returns false for the default:
// after a limiter error the request goes on to the next handler, unlimited
// and without RateLimit fields (wrap the limiter in FailOpen, FailClosed or
// Fallback to choose otherwise); after a configuration error it is
// answered 500. Use f to log, count, or answer 503 instead.
func WithOnError(f func(w http.ResponseWriter, r *http.Request, err error) bool) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) error {
		if f == nil {
			return fmt.Errorf("%w: WithOnError(nil)", ErrInvalidConfig)
		}
		c.onError = f
		return nil
	})
}

// WithOnTooManyKeys sets a hook called with the request and its key each
// time the limiter refuses a new key because its key table is full
// (ErrTooManyKeys: a memory limiter at its WithMaxKeys cap, which reports
// EventTooManyKeys to its own observer too). The request is denied like
// any other (429 with Retry-After, or WithOnDeny's answer) and carries
// "X-RateLimit-Reason: too-many-keys"; keys already tracked are decided as
// usual. A stream of these means the cap is too low or someone is spraying
// keys (addresses): count them, alert on them. The hook runs on the
// request's goroutine before the answer is written: keep it fast.
func WithOnTooManyKeys(f func(r *http.Request, key string)) MiddlewareOption {
	return middlewareOption(func(c *middlewareConfig) error {
		if f == nil {
			return fmt.Errorf("%w: WithOnTooManyKeys(nil)", ErrInvalidConfig)
		}
		c.onFull = f
		return nil
	})
}
