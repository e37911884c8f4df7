package ratelimit

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAddrKey(t *testing.T) {
	for _, tc := range []struct {
		addr string
		bits int
		want string
	}{
		{"192.0.2.1", 64, "192.0.2.1"},
		{"192.0.2.1", 1, "192.0.2.1"},
		{"::ffff:192.0.2.1", 64, "192.0.2.1"}, // not ::/64: all of IPv4 would share one key
		{"::ffff:192.0.2.1", 128, "192.0.2.1"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", 64, "2001:db8:1:2::/64"},
		{"2001:db8:1:2ff::1", 56, "2001:db8:1:200::/56"},
		{"2001:db8:1:2ff::1", 48, "2001:db8:1::/48"},
		{"2001:DB8:1:2::1", 128, "2001:db8:1:2::1"},
		{"fe80::1%eth0", 64, "fe80::/64"},
		{"fe80::1%eth0", 128, "fe80::1"},
		{"::1", 64, "::/64"},
	} {
		got, err := AddrKey(netip.MustParseAddr(tc.addr), tc.bits)
		require.NoError(t, err, tc.addr)
		require.Equal(t, tc.want, got, "%s /%d", tc.addr, tc.bits)
	}
	for _, bits := range []int{0, -1, 129} {
		_, err := AddrKey(netip.MustParseAddr("2001:db8::1"), bits)
		require.ErrorIs(t, err, ErrInvalidRequest, "bits %d", bits)
	}
	_, err := AddrKey(netip.Addr{}, 64)
	require.ErrorIs(t, err, ErrInvalidRequest)
}

// The default key groups IPv6 clients by prefix, behind trusted proxies
// too, while trust itself is decided on full addresses.
func TestClientIPGroupsIPv6(t *testing.T) {
	const xff = headerXFF
	cases := []struct {
		name    string
		bits    int
		trusted []string
		remote  string
		values  []string
		want    string
	}{
		{"IPv4", 64, nil, "203.0.113.5:1", nil, "203.0.113.5"},
		{"IPv4-mapped", 64, nil, "[::ffff:203.0.113.5]:1", nil, "203.0.113.5"},
		{"IPv6 /64", 64, nil, "[2001:db8:1:2:aaaa::1]:1", nil, "2001:db8:1:2::/64"},
		{"IPv6 /56", 56, nil, "[2001:db8:1:2:aaaa::1]:1", nil, "2001:db8:1::/56"},
		{"IPv6 ungrouped", 128, nil, "[2001:db8:1:2:aaaa::1]:1", nil, "2001:db8:1:2:aaaa::1"},
		{"IPv6 client behind an IPv4 proxy", 64, []string{"10.0.0.0/8"}, "10.0.0.1:1", []string{"[2001:db8:1:2::7]:443"}, "2001:db8:1:2::/64"},
		{"IPv4 client behind an IPv6 proxy", 64, []string{"2001:db8:aa::/48"}, "[2001:db8:aa::5]:1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"IPv4-mapped client behind a proxy", 64, []string{"10.0.0.0/8"}, "10.0.0.1:1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		// A neighbour of a trusted proxy in its /64 is not trusted: its
		// header is ignored and it is keyed by its own group.
		{"proxy's /64 neighbour", 64, []string{"2001:db8:aa::5"}, "[2001:db8:aa::6]:1", []string{"198.51.100.7"}, "2001:db8:aa::/64"},
		{"all hops trusted: the leftmost, grouped", 64, []string{"2001:db8:aa::/48"}, "[2001:db8:aa::5]:1", []string{"2001:db8:aa:1::9"}, "2001:db8:aa:1::/64"},
		{"obfuscated node unchanged", 64, []string{"10.0.0.0/8"}, "10.0.0.1:1", []string{"_gazonk"}, "_gazonk"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClientIP(t, xff, tc.trusted...)
			c.ipv6Bits = tc.bits
			require.Equal(t, tc.want, c.key(requestFrom(tc.remote, xff, tc.values...)))
		})
	}
}

func TestMiddlewareGroupsIPv6ByDefault(t *testing.T) {
	h, _ := newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil)
	require.Equal(t, http.StatusOK, serve(h, "[2001:db8:1:2::1]:1").Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "[2001:db8:1:2:ffff::9]:1").Code,
		"a client cannot get a fresh quota by picking another address in its /64")
	require.Equal(t, http.StatusOK, serve(h, "[2001:db8:1:3::1]:1").Code, "another /64 is another client")
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1").Code)
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.2:1").Code, "IPv4 clients are not grouped")

	h, _ = newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil, WithIPv6Prefix(128))
	require.Equal(t, http.StatusOK, serve(h, "[2001:db8:1:2::1]:1").Code)
	require.Equal(t, http.StatusOK, serve(h, "[2001:db8:1:2::2]:1").Code, "WithIPv6Prefix(128) turns grouping off")

	h, _ = newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil, WithIPv6Prefix(48))
	require.Equal(t, http.StatusOK, serve(h, "[2001:db8:1:2::1]:1").Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "[2001:db8:1:ff::1]:1").Code, "one /48")
}

func TestIPv6PrefixInvalidConfig(t *testing.T) {
	m := memLimiter(t, newMWClock(), FixedWindow, PerSecond(1))
	for _, bits := range []int{0, -64, 129} {
		_, err := NewMiddleware(m, nil, WithIPv6Prefix(bits))
		require.ErrorIs(t, err, ErrInvalidConfig, "bits %d", bits)
	}
	_, err := NewMiddleware(m, func(*http.Request) string { return "k" }, WithIPv6Prefix(64))
	require.ErrorIs(t, err, ErrInvalidConfig, "a key function groups by itself, with AddrKey")
}
