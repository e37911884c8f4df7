package ratelimit_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/sysdesign/patterns/ratelimit"
)

func ExampleClientIP() {
	// Behind load balancers in 10.0.0.0/8: limit logins per client IP and
	// account, with the same client IP the default key would use.
	clientIP, err := ratelimit.ClientIP(ratelimit.WithTrustedProxies("10.0.0.0/8"))
	if err != nil {
		log.Fatal(err)
	}
	key := func(r *http.Request) string {
		return "login:" + r.FormValue("user") + "@" + clientIP(r)
	}
	r := httptest.NewRequest(http.MethodPost, "/login?user=alice", nil)
	r.RemoteAddr = "10.1.2.3:50000" // the load balancer
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	fmt.Println(key(r))
	// Output: login:alice@198.51.100.7
}

func ExampleWithSkip() {
	lim, _ := ratelimit.NewMemory(ratelimit.FixedWindow, ratelimit.PerMinute(1))
	limit := ratelimit.Middleware(lim, nil,
		ratelimit.WithSkip(func(r *http.Request) bool { return r.URL.Path == "/healthz" }))
	h := limit(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	for _, path := range []string{"/healthz", "/healthz", "/api", "/api", "/healthz"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, w.Code)
	}
	// Output:
	// /healthz 200
	// /healthz 200
	// /api 200
	// /api 429
	// /healthz 200
}
