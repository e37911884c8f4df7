package ratelimit_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"time"

	"github.com/sysdesign/patterns/ratelimit"
)

func ExampleMiddleware() {
	// 2 per minute per client IP. WithClock pins time for a stable output.
	now := time.Unix(1_700_000_040, 0) // a whole minute
	lim, _ := ratelimit.NewMemory(ratelimit.FixedWindow, ratelimit.PerMinute(2),
		ratelimit.WithClock(func() time.Time { return now }))
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") })
	h := ratelimit.Middleware(lim, nil)(hello)

	for range 3 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		fmt.Println(w.Code, "RateLimit:", w.Header().Get("RateLimit"))
		if ra := w.Header().Get("Retry-After"); ra != "" {
			fmt.Println("    Retry-After:", ra)
		}
	}
	// Output:
	// 200 RateLimit: "default";r=1;t=60
	// 200 RateLimit: "default";r=0;t=60
	// 429 RateLimit: "default";r=0;t=60
	//     Retry-After: 60
}

func ExampleNewMiddleware() {
	lim, err := ratelimit.NewMemory(ratelimit.TokenBucket, ratelimit.PerSecond(10))
	if err != nil {
		log.Fatal(err)
	}
	// Behind a load balancer in 10.0.0.0/8, key by the client it forwards for.
	limit, err := ratelimit.NewMiddleware(lim, nil,
		ratelimit.WithTrustedProxies("10.0.0.0/8"), ratelimit.WithLegacyHeaders())
	if err != nil {
		log.Fatal(err) // bad configuration: found at start-up, not per request
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", limit(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	})))
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/api/x", nil)
	r.RemoteAddr = "10.1.2.3:50000" // the load balancer
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, w.Body, w.Header().Get("X-RateLimit-Remaining"))
	// Output: 200 ok 9
}

func ExampleAddrKey() {
	// A key function of your own, per route and client, grouping IPv6
	// clients by /64 as the default key does.
	loginKey := func(r *http.Request) string {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil {
			return "login:unknown" // not an IP: one shared key, never exempt
		}
		key, err := ratelimit.AddrKey(ap.Addr(), ratelimit.DefaultIPv6Prefix)
		if err != nil {
			return "login:unknown"
		}
		return "login:" + key
	}
	for _, remote := range []string{"198.51.100.7:1234", "[2001:db8:1:2::7]:443", "[2001:db8:1:2:aaaa::1]:443", "[::ffff:198.51.100.7]:80"} {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = remote
		fmt.Println(loginKey(r))
	}
	// Output:
	// login:198.51.100.7
	// login:2001:db8:1:2::/64
	// login:2001:db8:1:2::/64
	// login:198.51.100.7
}
