package ratelimit

import (
	"fmt"
	"net/http"
)

// MiddlewareOption configures Middleware and NewMiddleware.
type MiddlewareOption func(*middlewareConfig) error

type middlewareConfig struct {
	trusted      []string
	proxyHeader  string
	legacy       bool
	policy       string
	onDeny       func(w http.ResponseWriter, r *http.Request, d Decision)
	onError      func(w http.ResponseWriter, r *http.Request, err error) bool
	onFullTable  func(r *http.Request, key string)
	ipv6Bits     int
	setTrusted   bool
	setProxyHead bool
	setIPv6Bits  bool
}

// TrustedProxies makes the default key believe the forwarding header (see
// ProxyHeader; X-Forwarded-For by default) of requests whose RemoteAddr is
// in one of cidrs ("10.0.0.0/8", "2001:db8::/32", or a single address such
// as "192.0.2.7"). The client is then the rightmost hop in that header that
// is not itself a trusted proxy. List exactly your load balancers and
// reverse proxies: a request from any other address is keyed by its
// RemoteAddr, whatever headers it carries, so clients cannot pick their own
// key. Only for the default key: with a key function of your own it is a
// configuration error.
func TrustedProxies(cidrs ...string) MiddlewareOption {
	return func(c *middlewareConfig) error {
		c.trusted, c.setTrusted = append([]string(nil), cidrs...), true
		_, err := parseTrustedProxies(cidrs)
		return err
	}
}

// IPv6Prefix sets the prefix length by which the default key groups IPv6
// clients: all addresses in one /bits share one key, and so one quota
// (default DefaultIPv6Prefix, 64, which explains why). IPv6Prefix(128)
// keys each IPv6 address on its own; bits must be in 1..128. IPv4 clients,
// IPv4-mapped IPv6 ones included, are keyed by their address whatever this
// says. Trust in proxies is decided on full addresses, never on the group.
// Only for the default key: with a key function of your own it is a
// configuration error (use AddrKey there).
func IPv6Prefix(bits int) MiddlewareOption {
	return func(c *middlewareConfig) error {
		if err := checkIPv6Bits(bits); err != nil {
			return fmt.Errorf("%w: IPv6Prefix(%d): %w", ErrInvalidConfig, bits, err)
		}
		c.ipv6Bits, c.setIPv6Bits = bits, true
		return nil
	}
}

// ProxyHeader names the header your trusted proxies write the client
// address into: "X-Forwarded-For" (the default) or "Forwarded" (RFC 7239).
// Only one is read, the one your proxies append to: a header they pass
// through untouched would be the client's own word. Needs TrustedProxies.
func ProxyHeader(name string) MiddlewareOption {
	return func(c *middlewareConfig) error {
		switch h := http.CanonicalHeaderKey(name); h {
		case headerXFF, headerForwarded:
			c.proxyHeader, c.setProxyHead = h, true
			return nil
		}
		return fmt.Errorf("%w: ProxyHeader(%q): want %q or %q", ErrInvalidConfig, name, headerXFF, headerForwarded)
	}
}

// LegacyHeaders adds X-RateLimit-Limit (Rate), X-RateLimit-Remaining and
// X-RateLimit-Reset (seconds from now, rounded up, like the RateLimit
// field's t; not a Unix time) to every limited response, for clients
// written against those de facto headers.
func LegacyHeaders() MiddlewareOption {
	return func(c *middlewareConfig) error {
		c.legacy = true
		return nil
	}
}

// PolicyName sets the policy name in the RateLimit and RateLimit-Policy
// fields (default "default"). Give each middleware its own name when you
// stack several (per IP, per user): each adds its own list member, so the
// client sees every policy.
func PolicyName(name string) MiddlewareOption {
	return func(c *middlewareConfig) error {
		if name == "" {
			return fmt.Errorf("%w: PolicyName(\"\")", ErrInvalidConfig)
		}
		for i := 0; i < len(name); i++ {
			// A Structured Fields String holds printable ASCII only.
			if name[i] < 0x20 || name[i] > 0x7e {
				return fmt.Errorf("%w: PolicyName(%q): printable ASCII only", ErrInvalidConfig, name)
			}
		}
		c.policy = name
		return nil
	}
}

// OnDeny replaces the default answer to a denied request (429 Too Many
// Requests, text/plain). f writes the whole response, status included, and
// is called with the Retry-After and RateLimit header fields already set,
// so a custom body (JSON, an RFC 9457 problem) needs nothing else.
func OnDeny(f func(w http.ResponseWriter, r *http.Request, d Decision)) MiddlewareOption {
	return func(c *middlewareConfig) error {
		if f == nil {
			return fmt.Errorf("%w: OnDeny(nil)", ErrInvalidConfig)
		}
		c.onDeny = f
		return nil
	}
}

// OnError handles what the middleware cannot decide: an error from the
// limiter (a bare Redis limiter's outage, a client that went away mid-call,
// a misconfigured wrapper; not ErrTooManyKeys, which is a denial, see
// OnTooManyKeys) and Middleware's own configuration error. f
// either answers the request and returns true, or returns false for the
// default: after a limiter error the request goes on to the next handler,
// unlimited and without RateLimit fields (wrap the limiter in FailOpen,
// FailClosed or Fallback to choose otherwise); after a configuration error
// it is answered 500. Use f to log, count, or answer 503 instead.
func OnError(f func(w http.ResponseWriter, r *http.Request, err error) bool) MiddlewareOption {
	return func(c *middlewareConfig) error {
		if f == nil {
			return fmt.Errorf("%w: OnError(nil)", ErrInvalidConfig)
		}
		c.onError = f
		return nil
	}
}

// OnTooManyKeys sets a hook called with the request and its key each time
// the limiter refuses a new key because its key table is full
// (ErrTooManyKeys: a memory limiter at its WithMaxKeys cap). The request is
// denied like any other (429 with Retry-After, or OnDeny's answer) and
// carries "X-RateLimit-Reason: too-many-keys"; keys already tracked are
// decided as usual. A stream of these means the cap is too low or someone
// is spraying keys (addresses): count them, alert on them. The hook runs on
// the request's goroutine before the answer is written: keep it fast.
func OnTooManyKeys(f func(r *http.Request, key string)) MiddlewareOption {
	return func(c *middlewareConfig) error {
		if f == nil {
			return fmt.Errorf("%w: OnTooManyKeys(nil)", ErrInvalidConfig)
		}
		c.onFullTable = f
		return nil
	}
}
