package ratelimit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// headerOnly is a ResponseWriter that keeps one header map, cleared for
// each request, so that the benchmark counts the middleware's allocations
// and not a recorder's.
type headerOnly struct{ h http.Header }

func (w *headerOnly) Header() http.Header         { return w.h }
func (w *headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerOnly) WriteHeader(int)             {}

// BenchmarkMiddleware: one allowed (or denied) request through the
// middleware on a memory limiter, headers included, next handler empty.
func BenchmarkMiddleware(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate int
		opts []MiddlewareOption
	}{
		{"allowed", 1_000_000_000, nil},
		{"allowed-legacy", 1_000_000_000, []MiddlewareOption{WithLegacyHeaders()}},
		{"denied", 1, []MiddlewareOption{WithOnDeny(func(http.ResponseWriter, *http.Request, Decision) {})}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			lim, err := NewMemory(TokenBucket, Limit{Rate: tc.rate, Period: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			mw, err := NewMiddleware(lim, func(*http.Request) string { return "k" }, tc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "") }))
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			w := &headerOnly{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkMiddlewareFields: the header fields alone, as written before
// session 5 (Header.Add/Set, string concatenation; kept below for the
// comparison) and now, side by side.
//
//	go test -run '^$' -bench 'MiddlewareFields' -count 5 ./ratelimit/
func BenchmarkMiddlewareFields(b *testing.B) {
	d := Decision{Allowed: true, Limit: Limit{Rate: 100, Period: time.Second, Burst: 100}, Remaining: 57, ResetAfter: 430 * time.Millisecond}
	for _, legacy := range []bool{false, true} {
		m := &middleware{policy: sfString(DefaultPolicyName), legacy: legacy}
		h := http.Header{}
		b.Run(fmt.Sprintf("legacy=%t/impl=before", legacy), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(h)
				writeFieldsBefore(h, m.policy, d, legacy)
			}
		})
		b.Run(fmt.Sprintf("legacy=%t/impl=after", legacy), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(h)
				m.writeFields(h, d)
			}
		})
	}
}

// writeFieldsBefore is the fields' writer before session 5, for the
// comparison only.
func writeFieldsBefore(h http.Header, name string, d Decision, legacy bool) {
	t := strconv.FormatInt(resetSeconds(d), 10)
	if d.Limit.Rate > 0 && d.Limit.Period > 0 {
		p := name + ";q=" + strconv.Itoa(d.Limit.Rate)
		if d.Limit.Period%time.Second == 0 {
			p += ";w=" + strconv.FormatInt(int64(d.Limit.Period/time.Second), 10)
		}
		h.Add("RateLimit-Policy", p)
	}
	h.Add("RateLimit", name+";r="+strconv.Itoa(max(d.Remaining, 0))+";t="+t)
	if legacy {
		h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit.Rate))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
		h.Set("X-RateLimit-Reset", t)
	}
}
