package ratelimit

import (
	"fmt"
	"net/netip"
)

// DefaultIPv6Prefix is the prefix length by which the middleware's default
// key groups IPv6 clients: one key per /64.
//
// Why: an IPv6 host picks its own interface identifier, the low 64 bits of
// its address (SLAAC privacy addresses rotate it routinely, and any host can
// take as many as it likes), so keying by the full address would hand one
// client 2^64 fresh quotas. A /64 is the smallest block an end site is
// normally given (RFC 6177, RFC 7421): one LAN, one home, one phone. The
// trade-offs: clients sharing a /64 (a LAN, some hosting providers' VMs)
// share a quota; and a site given a /56 or /48 can still rotate through its
// /64s (choose WithIPv6Prefix(56) or (48) to group those too).
const DefaultIPv6Prefix = 64

// AddrKey returns the rate-limit key of a client address as the
// middleware's default key makes it, for key functions of your own (e.g.
// "login:" + key): an IPv4 address, IPv4-mapped IPv6 included, is keyed as
// itself ("192.0.2.1"); an IPv6 address as its ipv6Bits prefix
// ("2001:db8:1:2::/64" for 64, DefaultIPv6Prefix), or as itself when
// ipv6Bits is 128. Zones are dropped. An invalid address or an ipv6Bits
// outside 1..128 is an error wrapping ErrInvalidRequest.
func AddrKey(a netip.Addr, ipv6Bits int) (string, error) {
	if !a.IsValid() {
		return "", fmt.Errorf("%w: AddrKey: not an IP address", ErrInvalidRequest)
	}
	if err := checkIPv6Bits(ipv6Bits); err != nil {
		return "", fmt.Errorf("%w: AddrKey: %w", ErrInvalidRequest, err)
	}
	return groupedKey(a.Unmap().WithZone(""), ipv6Bits), nil
}

func checkIPv6Bits(bits int) error {
	if bits < 1 || bits > 128 {
		return fmt.Errorf("IPv6 prefix length %d is not in 1..128 (128 keys each address on its own)", bits)
	}
	return nil
}

// groupedKey is AddrKey for an address already unmapped and without zone,
// and a prefix length already checked (0 counts as 128).
func groupedKey(a netip.Addr, ipv6Bits int) string {
	if a.Is4() || ipv6Bits == 0 || ipv6Bits >= 128 {
		return a.String()
	}
	p, err := a.Prefix(ipv6Bits)
	if err != nil { // cannot happen for a valid IPv6 address and 1..127
		return a.String()
	}
	return p.String()
}
