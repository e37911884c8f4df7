package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/sysdesign/patterns/ratelimit"
)

// middlewareDemo shows who the HTTP middleware's default key says a client
// is (IPv6 clients per /64) and what a full key table does: it refuses the
// new client only. It runs in memory, on a clock that stands still.
func middlewareDemo() error {
	now := time.Unix(1_700_000_040, 0)
	lim, err := ratelimit.NewMemory(ratelimit.FixedWindow, ratelimit.PerMinute(3),
		ratelimit.WithClock(func() time.Time { return now }), ratelimit.WithMaxKeys(2))
	if err != nil {
		return err
	}
	refused := 0
	mw, err := ratelimit.NewMiddleware(lim, nil,
		ratelimit.WithOnTooManyKeys(func(*http.Request, string) { refused++ }))
	if err != nil {
		return err
	}
	h := mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))

	fmt.Printf("6. HTTP middleware: who is a client, and a full key table\n")
	fmt.Printf("   Limit %s per client, a memory limiter tracking at most 2 clients. IPv6\n", ratelimit.PerMinute(3))
	fmt.Printf("   clients are keyed per /64: a host picks the low 64 bits of its address at will.\n\n")
	t := newTable()
	fmt.Fprintf(t, "   from\tkey\tstatus\tRateLimit\treason\n")
	for _, from := range []string{
		"[2001:db8:1:2::1]:443", "[2001:db8:1:2:a:b:c:d]:443", "[2001:db8:1:2::ff]:443",
		"192.0.2.7:5000", "198.51.100.9:5000", "[2001:db8:1:2::1]:443", "192.0.2.7:5000",
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = from
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		reason := w.Header().Get("X-RateLimit-Reason")
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(t, "   %s\t%s\t%d\t%s\t%s\n", from, keyOf(from), w.Code, w.Header().Get("RateLimit"), reason)
	}
	t.Flush()
	fmt.Printf("\n   The /64 spent its quota whatever address it came from. 198.51.100.9 found the\n")
	fmt.Printf("   table full: refused alone (WithOnTooManyKeys called %d time), while the clients\n", refused)
	fmt.Printf("   already tracked kept their own answers.\n\n")
	return nil
}

// keyOf is the key the default key function gives a RemoteAddr, as a key
// function of your own would compute it with AddrKey.
func keyOf(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return "?"
	}
	k, err := ratelimit.AddrKey(ap.Addr(), ratelimit.DefaultIPv6Prefix)
	if err != nil {
		return "?"
	}
	return k
}
