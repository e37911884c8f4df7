package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the Middleware's default key: the address of the client, as
// far as it can be known without trusting what the client itself says.
type clientIP struct {
	trusted  []netip.Prefix // proxies whose forwarding header is believed
	header   string         // canonical header name: headerXFF or headerForwarded
	ipv6Bits int            // IPv6 clients share the key of this prefix; 0 or 128: none
}

const (
	headerXFF       = "X-Forwarded-For"
	headerForwarded = "Forwarded"
)

// key returns the client's IP address in canonical form (IPv4-mapped IPv6
// unmapped, zones dropped), so one client always gets one key; an IPv6
// client's is its ipv6Bits prefix (see WithIPv6Prefix).
//
// Without trusted proxies it is RemoteAddr's IP: anything in the request
// headers is written by the client and could name any address. Behind
// trusted proxies it walks the forwarding header from the right, where the
// nearest proxy appended what it saw, skipping trusted hops, and takes the
// first hop that is not a trusted proxy: entries further left were written
// by that untrusted party and may be forged. A hop a proxy could not name
// ("unknown", a missing for=) stops the walk at the proxy that said so; an
// RFC 7239 obfuscated identifier ("_abc") is used as the key as is.
func (c *clientIP) key(r *http.Request) string {
	peer, ok := parseNode(r.RemoteAddr)
	if !ok {
		// Not an IP (a Unix socket, a custom listener): all such
		// requests share one key, the conservative choice.
		if r.RemoteAddr == "" {
			return "unknown"
		}
		return r.RemoteAddr
	}
	if !c.isTrusted(peer) {
		return c.keyOf(peer)
	}
	hops := c.hops(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseNode(hops[i])
		if !ok {
			if strings.HasPrefix(hops[i], "_") {
				return hops[i]
			}
			return c.keyOf(peer)
		}
		if !c.isTrusted(a) {
			return c.keyOf(a)
		}
		peer = a
	}
	// Every hop is a trusted proxy: the request started inside the trusted
	// network, at the leftmost of them.
	return c.keyOf(peer)
}

func (c *clientIP) keyOf(a netip.Addr) string { return groupedKey(a, c.ipv6Bits) }

func (c *clientIP) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// hops lists the forwarding header's nodes, client side first, across all
// the header's lines, which proxies may append instead of extending one.
func (c *clientIP) hops(h http.Header) []string {
	values := h.Values(c.header)
	if c.header == headerForwarded {
		return forwardedFor(values)
	}
	var hops []string
	for _, v := range values {
		for _, hop := range strings.Split(v, ",") {
			if hop = strings.TrimSpace(hop); hop != "" { // empty list elements do not count
				hops = append(hops, hop)
			}
		}
	}
	return hops
}

// parseNode parses one hop: an IP address, optionally with a port, IPv6 in
// brackets or not ("192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:80",
// "2001:db8::1"). Ports are ignored, and may be RFC 7239 obfuscated ones.
func parseNode(s string) (netip.Addr, bool) {
	host := s
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		host = s[1:end]
		if rest := s[end+1:]; rest != "" && rest[0] != ':' {
			return netip.Addr{}, false
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.LastIndexByte(s, ':') == i {
		host = s[:i] // exactly one colon: IPv4 with a port
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// forwardedFor returns the for= node of each element of RFC 7239 Forwarded
// field values, in order, unquoted; "" for an element without one.
// Malformed input yields odd nodes, never a panic: the walk in key treats
// whatever does not parse as an address as a hop it cannot name.
func forwardedFor(values []string) []string {
	var hops []string
	for _, v := range values {
		node, inElement := "", false
		for {
			v = strings.TrimLeft(v, " \t")
			if v == "" {
				break
			}
			switch v[0] {
			case ',': // end of element
				if inElement {
					hops = append(hops, node)
				}
				node, inElement = "", false
				v = v[1:]
				continue
			case ';': // between pairs
				v = v[1:]
				continue
			}
			inElement = true
			var name, value string
			name, value, v = forwardedPair(v)
			if strings.EqualFold(name, "for") && node == "" {
				node = value
			}
		}
		if inElement {
			hops = append(hops, node)
		}
	}
	return hops
}

// forwardedPair reads one name=value pair from the start of s (which is not
// empty and starts with neither ',' nor ';') and returns what follows it.
func forwardedPair(s string) (name, value, rest string) {
	end := strings.IndexAny(s, "=;,")
	if end < 0 {
		return strings.TrimSpace(s), "", ""
	}
	if s[end] != '=' { // a name without a value
		return strings.TrimSpace(s[:end]), "", s[end:]
	}
	name, s = strings.TrimSpace(s[:end]), strings.TrimLeft(s[end+1:], " \t")
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '"':
				return name, b.String(), skipToSeparator(s[i+1:])
			default:
				b.WriteByte(s[i])
			}
		}
		return name, b.String(), "" // unterminated: take the rest
	}
	end = strings.IndexAny(s, ";,")
	if end < 0 {
		return name, strings.TrimSpace(s), ""
	}
	return name, strings.TrimSpace(s[:end]), s[end:]
}

// skipToSeparator drops anything between a value and the next ';' or ','.
func skipToSeparator(s string) string {
	if i := strings.IndexAny(s, ";,"); i >= 0 {
		return s[i:]
	}
	return ""
}

// parseTrustedProxies parses CIDR prefixes or single addresses.
func parseTrustedProxies(cidrs []string) ([]netip.Prefix, error) {
	if len(cidrs) == 0 {
		return nil, fmt.Errorf("%w: WithTrustedProxies(): no proxies given", ErrInvalidConfig)
	}
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, err2 := netip.ParseAddr(s)
			if err2 != nil {
				return nil, fmt.Errorf("%w: WithTrustedProxies: %q is neither a CIDR prefix nor an IP address", ErrInvalidConfig, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		// Addresses are compared unmapped, so an IPv4-mapped prefix must be too.
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
