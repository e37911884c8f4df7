// Package urlcheck validates and normalises the target URLs of the URL
// shortener.
//
// A shortener that accepts anything becomes a tool for abuse: javascript:
// and data: URLs run script in the victim's browser under the shortener's
// name, credentials in a URL leak, and a link to the shortener itself makes a
// redirect loop. Check accepts only absolute http and https URLs with a host,
// at most MaxLen bytes, without user information, not pointing at the
// shortener's own hosts, and returns the normalised form that the
// deduplication index is keyed by, so that "HTTP://Example.com:80" and
// "http://example.com/" are one link.
//
//	c, err := urlcheck.New("sho.rt", "127.0.0.1:8080")
//	norm, err := c.Check(raw) // errors wrap ErrInvalidURL; errors.As gives *Error with a Reason
package urlcheck

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest target URL accepted, in bytes, before and after
// normalisation: 2048, what browsers and most servers handle everywhere.
const MaxLen = 2048

// ErrInvalidURL is wrapped by every error Check returns.
var ErrInvalidURL = errors.New("invalid url")

// ErrInvalidConfig is wrapped by New's errors.
var ErrInvalidConfig = errors.New("urlcheck: invalid config")

// Error says why a URL was refused, in words meant for the person who sent it.
type Error struct {
	Reason string
}

// Error returns "invalid url: " and the reason.
func (e *Error) Error() string { return "invalid url: " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidURL) hold.
func (e *Error) Unwrap() error { return ErrInvalidURL }

func refuse(format string, args ...any) error {
	return &Error{Reason: fmt.Sprintf(format, args...)}
}

// Checker validates target URLs. It is safe for concurrent use.
type Checker struct {
	own map[string]bool // "host:port", lower case, port explicit
}

// New returns a Checker that refuses targets on the given hosts: the
// shortener's own, as "host" (any port) or "host:port", so a short link can
// never point at another short link.
func New(ownHosts ...string) (*Checker, error) {
	c := &Checker{own: make(map[string]bool, len(ownHosts))}
	for _, h := range ownHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || strings.ContainsAny(h, "/?#@ ") {
			return nil, fmt.Errorf("%w: own host %q is not a host or host:port", ErrInvalidConfig, h)
		}
		c.own[h] = true
	}
	return c, nil
}

// Check validates raw and returns its normalised form: scheme and host in
// lower case, the default port dropped, an empty path written "/". Query and
// fragment are kept as given (they are part of where the link goes).
func (c *Checker) Check(raw string) (string, error) {
	if raw == "" {
		return "", refuse("is empty")
	}
	if len(raw) > MaxLen {
		return "", refuse("is %d bytes; at most %d", len(raw), MaxLen)
	}
	if !utf8.ValidString(raw) {
		return "", refuse("is not valid UTF-8")
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return "", refuse("contains whitespace or a control character")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", refuse("does not parse")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		if u.Scheme == "" {
			return "", refuse("must be absolute, starting with http:// or https://")
		}
		return "", refuse("scheme %q is not allowed; only http and https", u.Scheme)
	}
	if u.Opaque != "" {
		return "", refuse("must be of the form %s://host/path", scheme)
	}
	if u.User != nil {
		return "", refuse("must not contain a user name or password")
	}
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", refuse("has no host")
	}
	if strings.HasSuffix(host, ".") {
		host = strings.TrimSuffix(host, ".")
		if host == "" {
			return "", refuse("has no host")
		}
	}
	if err := checkHost(host); err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" && strings.HasSuffix(u.Host, ":") {
		return "", refuse("has an empty port")
	}
	if port != "" {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", refuse("port %q is not between 1 and 65535", port)
		}
	}
	defPort := map[string]string{"http": "80", "https": "443"}[scheme]
	if port == defPort {
		port = ""
	}
	effective := port
	if effective == "" {
		effective = defPort
	}
	if c.own[host] || c.own[net.JoinHostPort(host, effective)] || c.own["["+host+"]"] {
		return "", refuse("points at this shortener (a redirect loop)")
	}
	u.Scheme = scheme
	if port == "" {
		u.Host = hostForURL(host)
	} else {
		u.Host = net.JoinHostPort(host, port)
	}
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	norm := u.String()
	if len(norm) > MaxLen {
		return "", refuse("is %d bytes once normalised; at most %d", len(norm), MaxLen)
	}
	return norm, nil
}

// checkHost accepts an IP literal or a DNS name in ASCII. Internationalised
// names must come in their punycode form (xn--…): the standard library has
// no IDNA mapping, and a percent-encoded host is not something every browser
// follows.
func checkHost(host string) error {
	if net.ParseIP(host) != nil {
		return nil
	}
	for i := 0; i < len(host); i++ {
		b := host[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '.' || b == '_') {
			if b >= utf8.RuneSelf {
				return refuse("host %q must be written in ASCII (punycode, xn--…)", host)
			}
			return refuse("host %q holds %q, which no host name does", host, b)
		}
	}
	if strings.Contains(host, "..") || strings.HasPrefix(host, ".") {
		return refuse("host %q has an empty label", host)
	}
	return nil
}

// hostForURL brackets an IPv6 literal.
func hostForURL(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}
