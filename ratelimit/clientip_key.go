package ratelimit

import (
	"errors"
	"fmt"
	"net/http"
)

// ClientIPOption configures how ClientIP, and the middleware's default key,
// find the client's address: WithTrustedProxies, WithProxyHeader,
// WithIPv6Prefix. Each is a MiddlewareOption too. Sealed like
// MemoryOption.
type ClientIPOption interface {
	MiddlewareOption
	applyClientIP(*ipConfig) error
}

// ipConfig is what ClientIPOptions set. The set flags remember which were
// given: Middleware rejects them beside a key function of its own, whose
// key they would not change (build the key function with ClientIP then).
type ipConfig struct {
	trusted  []string
	header   string
	ipv6Bits int

	setTrusted, setHeader, setIPv6Bits bool
}

type ipOption func(*ipConfig) error

func (f ipOption) applyClientIP(c *ipConfig) error { return f(c) }

func (f ipOption) applyMiddleware(c *middlewareConfig) error { return f(&c.ip) }

func (c *ipConfig) given() bool { return c.setTrusted || c.setHeader || c.setIPv6Bits }

// build validates the configuration and returns the key function's state.
func (c *ipConfig) build() (*clientIP, error) {
	ip := &clientIP{header: headerXFF, ipv6Bits: DefaultIPv6Prefix}
	if c.setIPv6Bits {
		ip.ipv6Bits = c.ipv6Bits
	}
	if c.setHeader {
		if !c.setTrusted {
			return ip, fmt.Errorf("%w: WithProxyHeader needs WithTrustedProxies", ErrInvalidConfig)
		}
		ip.header = c.header
	}
	if c.setTrusted {
		var err error
		if ip.trusted, err = parseTrustedProxies(c.trusted); err != nil {
			return ip, err
		}
	}
	return ip, nil
}

// ClientIP returns a key function that keys a request by its client's IP
// address, exactly as Middleware's default key does: RemoteAddr, or behind
// WithTrustedProxies the forwarding header's first hop that is not a
// trusted proxy; IPv6 clients grouped by WithIPv6Prefix (default
// DefaultIPv6Prefix). Use it inside a key function of your own:
//
//	ip, err := ratelimit.ClientIP(ratelimit.WithTrustedProxies("10.0.0.0/8"))
//	if err != nil { … }
//	key := func(r *http.Request) string { return "login:" + ip(r) }
//
// Errors wrap ErrInvalidConfig.
func ClientIP(opts ...ClientIPOption) (func(*http.Request) string, error) {
	var c ipConfig
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil ClientIPOption", ErrInvalidConfig)
		}
		if err := opt.applyClientIP(&c); err != nil {
			return nil, err
		}
	}
	ip, err := c.build()
	if err != nil {
		return nil, err
	}
	return ip.key, nil
}

// WithTrustedProxies makes the client-IP key believe the forwarding header
// (see WithProxyHeader; X-Forwarded-For by default) of requests whose
// RemoteAddr is in one of cidrs ("10.0.0.0/8", "2001:db8::/32", or a single
// address such as "192.0.2.7"). The client is then the rightmost hop in
// that header that is not itself a trusted proxy. List exactly your load
// balancers and reverse proxies: a request from any other address is keyed
// by its RemoteAddr, whatever headers it carries, so clients cannot pick
// their own key. Given to Middleware, it configures the default key; beside
// a key function of your own it is a configuration error (build that
// function with ClientIP).
func WithTrustedProxies(cidrs ...string) ClientIPOption {
	return ipOption(func(c *ipConfig) error {
		c.trusted, c.setTrusted = append([]string(nil), cidrs...), true
		_, err := parseTrustedProxies(cidrs)
		return err
	})
}

// WithIPv6Prefix sets the prefix length by which the client-IP key groups
// IPv6 clients: all addresses in one /bits share one key, and so one quota
// (default DefaultIPv6Prefix, which explains why). WithIPv6Prefix(128)
// keys each IPv6 address on its own; bits must be in 1..128. IPv4 clients,
// IPv4-mapped IPv6 ones included, are keyed by their address whatever this
// says. Trust in proxies is decided on full addresses, never on the group.
// Beside a key function of your own given to Middleware it is a
// configuration error (use ClientIP, or AddrKey, there).
func WithIPv6Prefix(bits int) ClientIPOption {
	return ipOption(func(c *ipConfig) error {
		if err := checkIPv6Bits(bits); err != nil {
			return fmt.Errorf("%w: WithIPv6Prefix(%d): %w", ErrInvalidConfig, bits, err)
		}
		c.ipv6Bits, c.setIPv6Bits = bits, true
		return nil
	})
}

// WithProxyHeader names the header your trusted proxies write the client
// address into: "X-Forwarded-For" (the default) or "Forwarded" (RFC 7239).
// Only one is read, the one your proxies append to: a header they pass
// through untouched would be the client's own word. Needs
// WithTrustedProxies.
func WithProxyHeader(name string) ClientIPOption {
	return ipOption(func(c *ipConfig) error {
		switch h := http.CanonicalHeaderKey(name); h {
		case headerXFF, headerForwarded:
			c.header, c.setHeader = h, true
			return nil
		}
		return fmt.Errorf("%w: WithProxyHeader(%q): want %q or %q", ErrInvalidConfig, name, headerXFF, headerForwarded)
	})
}

// errIPOptionsWithKey is Middleware's answer to client-IP options beside a
// key function of its own.
var errIPOptionsWithKey = errors.New("WithTrustedProxies, WithProxyHeader and WithIPv6Prefix configure the default key only; build your key function with ClientIP(those options) instead")
