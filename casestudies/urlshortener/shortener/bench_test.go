package shortener

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkRedirect measures a redirect through the whole handler (rate
// limit, cache, click hand-off) in memory, next to a bare handler answering
// a fixed 302: the service's own cost per redirect, without the network.
func BenchmarkRedirect(b *testing.B) {
	srv, err := New(Config{BaseURL: "http://sho.rt", RedirectRate: 100_000_000})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown(b.Context())
	l, _, err := srv.create(b.Context(), CreateRequest{URL: "https://example.com/bench"})
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "https://example.com/bench")
		w.WriteHeader(http.StatusFound)
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare-302", bare}, {"shortener", h}} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/"+l.Code, nil)
			req.RemoteAddr = "192.0.2.1:1234"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				tc.h.ServeHTTP(w, req)
				if w.Code != http.StatusFound {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
