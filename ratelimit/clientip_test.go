package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func newClientIP(t testing.TB, header string, cidrs ...string) *clientIP {
	t.Helper()
	c := &clientIP{header: header}
	if len(cidrs) > 0 {
		var err error
		c.trusted, err = parseTrustedProxies(cidrs)
		require.NoError(t, err)
	}
	return c
}

func requestFrom(remoteAddr string, header string, values ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remoteAddr
	for _, v := range values {
		r.Header.Add(header, v)
	}
	return r
}

func TestClientIPKey(t *testing.T) {
	const xff, fwd = headerXFF, headerForwarded
	cases := []struct {
		name    string
		trusted []string
		header  string // which header the proxies write
		remote  string
		values  []string // of header
		want    string
	}{
		{"remote address", nil, xff, "203.0.113.5:1234", nil, "203.0.113.5"},
		{"headers ignored without trusted proxies", nil, xff, "203.0.113.5:1234", []string{"198.51.100.7"}, "203.0.113.5"},
		{"headers ignored from an untrusted peer", []string{"10.0.0.0/8"}, xff, "203.0.113.5:1", []string{"198.51.100.7"}, "203.0.113.5"},
		{"client behind a trusted proxy", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"forged entries on the left", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"6.6.6.6, 7.7.7.7,198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"6.6.6.6, 198.51.100.7, 10.0.0.3, 10.0.0.2"}, "198.51.100.7"},
		{"several header lines", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"empty list elements", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"198.51.100.7, ,", ""}, "198.51.100.7"},
		{"no header: the proxy itself", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", nil, "10.0.0.1"},
		{"all trusted: the leftmost", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"10.9.9.9, 10.0.0.2"}, "10.9.9.9"},
		{"unknown hop: its proxy", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"198.51.100.7, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"garbage hop: its proxy", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"198.51.100.7, 300.1.1.1"}, "10.0.0.1"},
		{"hop with port", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"198.51.100.7:8080"}, "198.51.100.7"},
		{"IPv6 hop with port", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"[2001:DB8::1]:443"}, "2001:db8::1"},
		{"IPv6 hop", []string{"10.0.0.0/8"}, xff, "10.0.0.1:1", []string{"2001:db8:0:0::1"}, "2001:db8::1"},
		{"IPv4-mapped remote", nil, xff, "[::ffff:203.0.113.5]:80", nil, "203.0.113.5"},
		{"IPv4-mapped trusted proxy", []string{"10.0.0.0/8"}, xff, "[::ffff:10.0.0.1]:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv4-mapped prefix", []string{"::ffff:10.0.0.0/104"}, xff, "10.0.0.1:80", []string{"198.51.100.7"}, "198.51.100.7"},
		{"zone dropped", nil, xff, "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"single trusted address", []string{"10.0.0.1"}, xff, "10.0.0.1:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"single address is not a range", []string{"10.0.0.1"}, xff, "10.0.0.2:1", []string{"198.51.100.7"}, "10.0.0.2"},
		{"IPv6 proxies", []string{"2001:db8:aa::/48"}, xff, "[2001:db8:aa::5]:1", []string{"2001:db8:bb::7"}, "2001:db8:bb::7"},
		{"remote without port", nil, xff, "203.0.113.5", nil, "203.0.113.5"},
		{"not an IP remote", nil, xff, "@", nil, "@"},
		{"empty remote", nil, xff, "", nil, "unknown"},

		{"Forwarded", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{"for=198.51.100.7;proto=https"}, "198.51.100.7"},
		{"Forwarded chain", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{`for=6.6.6.6, For="[2001:db8::2]:8080";by=10.0.0.2, for=10.0.0.3`}, "2001:db8::2"},
		{"Forwarded lines", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{"for=6.6.6.6", "proto=http;for=198.51.100.7"}, "198.51.100.7"},
		{"Forwarded obfuscated", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{"for=198.51.100.7, for=_gazonk"}, "_gazonk"},
		{"Forwarded unknown", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{"for=198.51.100.7, for=unknown"}, "10.0.0.1"},
		{"Forwarded without for", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{"for=198.51.100.7, proto=https"}, "10.0.0.1"},
		{"Forwarded quoted comma", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{`for=198.51.100.7;x="a, for=6.6.6.6"`}, "198.51.100.7"},
		{"Forwarded escapes", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{`for="\1\9\8.51.100.7"`}, "198.51.100.7"},
		{"Forwarded obfuscated port", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", []string{`for="198.51.100.7:_p1"`}, "198.51.100.7"},
		{"X-Forwarded-For ignored when Forwarded is the header", []string{"10.0.0.0/8"}, fwd, "10.0.0.1:1", nil, "10.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClientIP(t, tc.header, tc.trusted...)
			r := requestFrom(tc.remote, tc.header, tc.values...)
			if tc.header == headerForwarded {
				r.Header.Set(headerXFF, "6.6.6.6") // the other header is never read
			}
			require.Equal(t, tc.want, c.key(r))
		})
	}
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := parseTrustedProxies([]string{" 10.1.2.3/8 ", "192.0.2.7", "2001:db8::/32"})
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
	}, got)

	for _, bad := range [][]string{nil, {""}, {"10.0.0/8"}, {"10.0.0.0/33"}, {"proxy.internal"}, {"10.0.0.0/8", "x"}} {
		_, err := parseTrustedProxies(bad)
		require.ErrorIs(t, err, ErrInvalidConfig, "%q", bad)
	}
}

// Whatever the headers say, a key is never empty (which would exempt the
// request), and a peer that is not a trusted proxy is keyed by its own
// address (its /64 for IPv6): headers can only matter when a trusted proxy
// wrote them.
func FuzzClientIPKey(f *testing.F) {
	f.Add("10.0.0.1:80", "198.51.100.7, 10.0.0.2", `for="[2001:db8::1]:80";proto=https, for=_x`)
	f.Add("203.0.113.5:1", "unknown,,", `for=";,\`)
	f.Add("[::ffff:10.0.0.1]:1", "[::1", "for")
	f.Fuzz(func(t *testing.T, remote, xff, fwd string) {
		for _, header := range []string{headerXFF, headerForwarded} {
			c := newClientIP(t, header, "10.0.0.0/8", "2001:db8::/32")
			c.ipv6Bits = DefaultIPv6Prefix
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = remote
			r.Header[headerXFF] = []string{xff}
			r.Header[headerForwarded] = []string{fwd}
			key := c.key(r)
			if key == "" {
				t.Fatalf("empty key for remote %q, %s %q / %q", remote, header, xff, fwd)
			}
			if peer, ok := parseNode(remote); ok && !c.isTrusted(peer) && key != groupedKey(peer, DefaultIPv6Prefix) {
				t.Fatalf("untrusted peer %q keyed as %q", remote, key)
			}
		}
	})
}

func FuzzForwardedFor(f *testing.F) {
	f.Add(`for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`)
	f.Add(`for="\"`)
	f.Add(`;;,,=;for=`)
	f.Fuzz(func(t *testing.T, v string) {
		hops := forwardedFor([]string{v})
		if len(hops) > strings.Count(v, ",")+1 {
			t.Fatalf("%d hops from %d elements at most: %q", len(hops), strings.Count(v, ",")+1, v)
		}
	})
}
