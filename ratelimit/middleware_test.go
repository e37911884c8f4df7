package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// mwClock is a settable clock for the memory limiters behind the
// middleware, starting on a whole hour so windows up to an hour start with
// it and the expected numbers are easy to read.
type mwClock struct {
	mu  sync.Mutex
	now time.Time
}

func newMWClock() *mwClock { return &mwClock{now: time.Unix(472_222*3600, 0)} }

func (c *mwClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *mwClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countingHandler answers 200 "ok" and counts the requests it served.
type countingHandler struct{ n atomic.Int64 }

func (h *countingHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.n.Add(1)
	_, _ = w.Write([]byte("ok"))
}

func memLimiter(t *testing.T, clk *mwClock, alg Algorithm, l Limit) *Memory {
	t.Helper()
	m, err := NewMemory(alg, l, WithClock(clk.Now))
	require.NoError(t, err)
	return m
}

// serve runs one request from remoteAddr through h and returns the response.
func serve(h http.Handler, remoteAddr string, mod ...func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = remoteAddr
	for _, f := range mod {
		f(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newHandler(t *testing.T, l Limiter, key func(*http.Request) string, opts ...MiddlewareOption) (http.Handler, *countingHandler) {
	t.Helper()
	mw, err := NewMiddleware(l, key, opts...)
	require.NoError(t, err)
	next := &countingHandler{}
	return mw(next), next
}

func TestMiddlewareAllowsThenDenies(t *testing.T) {
	clk := newMWClock()
	h, next := newHandler(t, memLimiter(t, clk, FixedWindow, PerSecond(2)), nil)

	for remaining := 1; remaining >= 0; remaining-- {
		w := serve(h, "192.0.2.1:1234")
		require.Equal(t, http.StatusOK, w.Code)
		require.Equal(t, "ok", w.Body.String())
		require.Equal(t, []string{`"default";q=2;w=1`}, w.Header().Values("RateLimit-Policy"))
		require.Equal(t, []string{fmt.Sprintf(`"default";r=%d;t=1`, remaining)}, w.Header().Values("RateLimit"))
		require.Empty(t, w.Header().Get("Retry-After"))
	}

	w := serve(h, "192.0.2.1:5678") // another port, same client
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "Too Many Requests\n", w.Body.String())
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.Equal(t, `"default";r=0;t=1`, w.Header().Get("RateLimit"))
	require.Equal(t, `"default";q=2;w=1`, w.Header().Get("RateLimit-Policy"))
	require.Empty(t, w.Header().Get("X-RateLimit-Limit"), "legacy fields only on request")
	require.EqualValues(t, 2, next.n.Load(), "a denied request never reaches the handler")

	require.Equal(t, http.StatusOK, serve(h, "192.0.2.2:1234").Code, "another client has its own quota")
}

// Retry-After is whole seconds rounded up: after exactly that wait the
// request is allowed, a second less is not enough. For every algorithm,
// with a Period that makes RetryAfter fractional.
func TestMiddlewareRetryAfterIsEnough(t *testing.T) {
	for _, alg := range []Algorithm{TokenBucket, LeakyBucket, FixedWindow, SlidingWindowLog, SlidingWindowCounter} {
		t.Run(alg.String(), func(t *testing.T) {
			clk := newMWClock()
			clk.Advance(300 * time.Millisecond)
			h, _ := newHandler(t, memLimiter(t, clk, alg, Limit{Rate: 2, Period: 2500 * time.Millisecond}), nil)
			var w *httptest.ResponseRecorder
			for i := 0; i < 10; i++ {
				if w = serve(h, "192.0.2.1:1"); w.Code == http.StatusTooManyRequests {
					break
				}
			}
			require.Equal(t, http.StatusTooManyRequests, w.Code)
			secs, err := strconv.Atoi(w.Header().Get("Retry-After"))
			require.NoError(t, err)
			require.GreaterOrEqual(t, secs, 1)

			clk.Advance(time.Duration(secs-1) * time.Second)
			require.Equal(t, http.StatusTooManyRequests, serve(h, "192.0.2.1:1").Code, "Retry-After %ds is rounded up, not down", secs)
			clk.Advance(time.Second)
			require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1").Code, "waiting Retry-After %ds is enough", secs)
		})
	}
}

func TestMiddlewarePolicyWindow(t *testing.T) {
	for _, tc := range []struct {
		limit Limit
		want  string
	}{
		{PerMinute(100), `"default";q=100;w=60`},
		{PerHour(5), `"default";q=5;w=3600`},
		// The draft has no sub-second windows: w is left out, not rounded.
		{Limit{Rate: 10, Period: 100 * time.Millisecond}, `"default";q=10`},
		{Limit{Rate: 3, Period: 1500 * time.Millisecond}, `"default";q=3`},
		{Limit{Rate: 2, Period: time.Second, Burst: 10}, `"default";q=2;w=1`},
	} {
		h, _ := newHandler(t, memLimiter(t, newMWClock(), TokenBucket, tc.limit), nil)
		require.Equal(t, tc.want, serve(h, "192.0.2.1:1").Header().Get("RateLimit-Policy"), tc.limit.String())
	}
}

// t is seconds until the key is full again while allowed, and the
// Retry-After value when denied.
func TestMiddlewareRateLimitField(t *testing.T) {
	clk := newMWClock()
	// 1 token per 2s, burst 3: after 3 requests the bucket is 6s from full.
	h, _ := newHandler(t, memLimiter(t, clk, TokenBucket, Limit{Rate: 1, Period: 2 * time.Second, Burst: 3}), nil)
	for i, want := range []string{`r=2;t=2`, `r=1;t=4`, `r=0;t=6`, `r=0;t=2`} {
		require.Equal(t, `"default";`+want, serve(h, "192.0.2.1:1").Header().Get("RateLimit"), "request %d", i+1)
	}
	clk.Advance(500 * time.Millisecond)
	require.Equal(t, `"default";r=0;t=2`, serve(h, "192.0.2.1:1").Header().Get("RateLimit"), "1.5s rounds up to 2")
}

func TestMiddlewareLegacyHeaders(t *testing.T) {
	clk := newMWClock()
	h, _ := newHandler(t, memLimiter(t, clk, FixedWindow, PerMinute(2)), nil, WithLegacyHeaders())
	clk.Advance(15 * time.Second)
	w := serve(h, "192.0.2.1:1")
	require.Equal(t, "2", w.Header().Get("X-RateLimit-Limit"))
	require.Equal(t, "1", w.Header().Get("X-RateLimit-Remaining"))
	require.Equal(t, "45", w.Header().Get("X-RateLimit-Reset"), "seconds until the window resets")
	require.NotEmpty(t, w.Header().Get("RateLimit"), "the draft's fields are always there")
	serve(h, "192.0.2.1:1")
	w = serve(h, "192.0.2.1:1")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "0", w.Header().Get("X-RateLimit-Remaining"))
	require.Equal(t, "45", w.Header().Get("X-RateLimit-Reset"))
}

func TestMiddlewarePolicyNamesStack(t *testing.T) {
	clk := newMWClock()
	perIP := Middleware(memLimiter(t, clk, FixedWindow, PerSecond(5)), nil, WithPolicyName("per-ip"))
	perUser := Middleware(memLimiter(t, clk, FixedWindow, PerMinute(100)), func(r *http.Request) string {
		return r.Header.Get("X-User")
	}, WithPolicyName(`user "x"`))
	h := perIP(perUser(&countingHandler{}))
	w := serve(h, "192.0.2.1:1", func(r *http.Request) { r.Header.Set("X-User", "alice") })
	require.Equal(t, []string{`"per-ip";r=4;t=1`, `"user \"x\"";r=99;t=60`}, w.Header().Values("RateLimit"))
	require.Equal(t, []string{`"per-ip";q=5;w=1`, `"user \"x\"";q=100;w=60`}, w.Header().Values("RateLimit-Policy"))
}

func TestMiddlewareOnDeny(t *testing.T) {
	var seen Decision
	h, _ := newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil,
		WithOnDeny(func(w http.ResponseWriter, _ *http.Request, d Decision) {
			seen = d
			require.Equal(t, "1", w.Header().Get("Retry-After"), "set before WithOnDeny runs")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"title":"slow down"}`))
		}))
	serve(h, "192.0.2.1:1")
	w := serve(h, "192.0.2.1:1")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, `{"title":"slow down"}`, w.Body.String())
	require.Equal(t, "application/problem+json", w.Header().Get("Content-Type"))
	require.False(t, seen.Allowed)
	require.Equal(t, 1, seen.Limit.Rate)
}

func TestMiddlewareKeyFunction(t *testing.T) {
	var keys []string
	h, next := newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), func(r *http.Request) string {
		keys = append(keys, r.Header.Get("X-User"))
		return r.Header.Get("X-User")
	})
	as := func(user string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-User", user) }
	}
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", as("alice")).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "192.0.2.2:1", as("alice")).Code, "the key, not the IP, decides")
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", as("bob")).Code)
	for range 3 {
		w := serve(h, "192.0.2.1:1") // key "": exempt
		require.Equal(t, http.StatusOK, w.Code)
		require.Empty(t, w.Header().Get("RateLimit"), "an exempt request is not limited, so no fields")
	}
	require.EqualValues(t, 5, next.n.Load())
	require.Len(t, keys, 6)
}

func TestMiddlewareIgnoresForwardingHeadersByDefault(t *testing.T) {
	h, _ := newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil)
	spoof := func(ip string) func(*http.Request) {
		return func(r *http.Request) {
			r.Header.Set("X-Forwarded-For", ip)
			r.Header.Set("Forwarded", "for="+ip)
		}
	}
	require.Equal(t, http.StatusOK, serve(h, "203.0.113.9:1", spoof("198.51.100.1")).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "203.0.113.9:2", spoof("198.51.100.2")).Code,
		"a client cannot get a fresh quota by naming another address")
}

func TestMiddlewareTrustedProxies(t *testing.T) {
	h, _ := newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil, WithTrustedProxies("10.0.0.0/8"))
	via := func(xff string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Forwarded-For", xff) }
	}
	require.Equal(t, http.StatusOK, serve(h, "10.0.0.1:1", via("198.51.100.1")).Code)
	require.Equal(t, http.StatusOK, serve(h, "10.0.0.1:1", via("198.51.100.2")).Code, "clients behind the proxy are told apart")
	require.Equal(t, http.StatusTooManyRequests, serve(h, "10.0.0.2:1", via("6.6.6.6, 198.51.100.1")).Code,
		"a forged entry left of what the proxy appended changes nothing")

	h, _ = newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil,
		WithTrustedProxies("10.0.0.1"), WithProxyHeader("forwarded"))
	fwd := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Forwarded", v) }
	}
	require.Equal(t, http.StatusOK, serve(h, "10.0.0.1:1", fwd(`for="[2001:db8::1]:443";proto=https`)).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "10.0.0.1:1", fwd("for=2001:db8::1")).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "10.0.0.1:1", fwd("for=2001:db8::2")).Code, "one /64, one client")
	require.Equal(t, http.StatusOK, serve(h, "10.0.0.1:1", fwd("for=2001:db8:0:1::1")).Code, "another /64, another client")
}

func TestMiddlewareLimiterErrors(t *testing.T) {
	failing := answering(Decision{Limit: PerSecond(5)}, errDown)

	h, next := newHandler(t, failing, nil)
	w := serve(h, "192.0.2.1:1")
	require.Equal(t, http.StatusOK, w.Code, "by default a limiter error lets the request through")
	require.Empty(t, w.Header().Get("RateLimit"), "there is no decision to report")
	require.EqualValues(t, 1, next.n.Load())

	var seen error
	h, next = newHandler(t, failing, nil, WithOnError(func(w http.ResponseWriter, _ *http.Request, err error) bool {
		seen = err
		http.Error(w, "limiter unavailable", http.StatusServiceUnavailable)
		return true
	}))
	require.Equal(t, http.StatusServiceUnavailable, serve(h, "192.0.2.1:1").Code)
	require.ErrorIs(t, seen, errDown)
	require.Zero(t, next.n.Load())

	seen = nil
	h, next = newHandler(t, failing, nil, WithOnError(func(_ http.ResponseWriter, _ *http.Request, err error) bool {
		seen = err // observe only
		return false
	}))
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1").Code)
	require.ErrorIs(t, seen, errDown)
	require.EqualValues(t, 1, next.n.Load())
}

func TestMiddlewareWithWrappers(t *testing.T) {
	failing := answering(Decision{Limit: PerSecond(5)}, errDown)

	h, next := newHandler(t, FailClosed(failing), nil)
	w := serve(h, "192.0.2.1:1")
	require.Equal(t, http.StatusTooManyRequests, w.Code)
	require.Equal(t, "1", w.Header().Get("Retry-After"))
	require.Zero(t, next.n.Load())

	h, next = newHandler(t, FailOpen(failing), nil)
	w = serve(h, "192.0.2.1:1")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, `"default";r=0;t=0`, w.Header().Get("RateLimit"))
	require.EqualValues(t, 1, next.n.Load())
}

func TestMiddlewareWaitsOutLeakyBucketDelay(t *testing.T) {
	// 50/s leaves one request every 20ms; the clock stands still, so the
	// three requests queue at 0, 20 and 40ms.
	h, next := newHandler(t, memLimiter(t, newMWClock(), LeakyBucket, Limit{Rate: 50, Period: time.Second, Burst: 3}), nil)
	for i, want := range []time.Duration{0, 20 * time.Millisecond, 40 * time.Millisecond} {
		start := time.Now()
		w := serve(h, "192.0.2.1:1")
		elapsed := time.Since(start)
		require.Equal(t, http.StatusOK, w.Code)
		require.GreaterOrEqual(t, elapsed, want, "request %d waits its turn", i+1)
		require.Less(t, elapsed, want+time.Second)
	}
	require.EqualValues(t, 3, next.n.Load())
	require.Equal(t, http.StatusTooManyRequests, serve(h, "192.0.2.1:1").Code, "the queue is full")
}

func TestMiddlewareDelayEndsWithTheRequest(t *testing.T) {
	// The second request would wait an hour.
	h, next := newHandler(t, memLimiter(t, newMWClock(), LeakyBucket, Limit{Rate: 1, Period: time.Hour, Burst: 2}), nil)
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1").Code)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	w := serve(h, "192.0.2.1:1", func(r *http.Request) { *r = *r.WithContext(ctx) })
	require.Less(t, time.Since(start), time.Second, "the wait ends with the request's context")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.EqualValues(t, 1, next.n.Load(), "a request whose context ended is not served late")
}

func TestMiddlewareInvalidConfig(t *testing.T) {
	var typedNil *Memory
	m := memLimiter(t, newMWClock(), FixedWindow, PerSecond(1))
	key := func(*http.Request) string { return "k" }
	cases := map[string]struct {
		l    Limiter
		key  func(*http.Request) string
		opts []MiddlewareOption
	}{
		"nil limiter":                 {l: nil},
		"typed nil limiter":           {l: typedNil},
		"nil option":                  {l: m, opts: []MiddlewareOption{nil}},
		"bad CIDR":                    {l: m, opts: []MiddlewareOption{WithTrustedProxies("10.0.0/8")}},
		"no CIDR":                     {l: m, opts: []MiddlewareOption{WithTrustedProxies()}},
		"proxies with a key function": {l: m, key: key, opts: []MiddlewareOption{WithTrustedProxies("10.0.0.0/8")}},
		"proxy header alone":          {l: m, opts: []MiddlewareOption{WithProxyHeader("Forwarded")}},
		"unknown proxy header":        {l: m, opts: []MiddlewareOption{WithTrustedProxies("10.0.0.0/8"), WithProxyHeader("X-Real-IP")}},
		"empty policy name":           {l: m, opts: []MiddlewareOption{WithPolicyName("")}},
		"non-ASCII policy name":       {l: m, opts: []MiddlewareOption{WithPolicyName("défaut")}},
		"nil OnDeny":                  {l: m, opts: []MiddlewareOption{WithOnDeny(nil)}},
		"nil OnError":                 {l: m, opts: []MiddlewareOption{WithOnError(nil)}},
		"nil OnTooManyKeys":           {l: m, opts: []MiddlewareOption{WithOnTooManyKeys(nil)}},
		"nil skip":                    {l: m, opts: []MiddlewareOption{WithSkip(nil)}},
		"IPv6 prefix 0":               {l: m, opts: []MiddlewareOption{WithIPv6Prefix(0)}},
		"IPv6 prefix 129":             {l: m, opts: []MiddlewareOption{WithIPv6Prefix(129)}},
		"IPv6 prefix with a key func": {l: m, key: key, opts: []MiddlewareOption{WithIPv6Prefix(56)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewMiddleware(tc.l, tc.key, tc.opts...)
			require.ErrorIs(t, err, ErrInvalidConfig)

			next := &countingHandler{}
			var h http.Handler
			require.NotPanics(t, func() { h = Middleware(tc.l, tc.key, tc.opts...)(next) })
			w := serve(h, "192.0.2.1:1")
			require.Equal(t, http.StatusInternalServerError, w.Code, "misconfigured: fail loudly, never unlimited")
			require.Zero(t, next.n.Load())

			// A WithOnError handler sees the error, whatever the option order.
			var seen error
			opts := append([]MiddlewareOption{WithOnError(func(w http.ResponseWriter, _ *http.Request, err error) bool {
				seen = err
				w.WriteHeader(http.StatusTeapot)
				return true
			})}, tc.opts...)
			w = serve(Middleware(tc.l, tc.key, opts...)(next), "192.0.2.1:1")
			require.Equal(t, http.StatusTeapot, w.Code)
			require.ErrorIs(t, seen, ErrInvalidConfig)
			require.Zero(t, next.n.Load())
		})
	}
}

func TestMiddlewareNilNextHandler(t *testing.T) {
	var h http.Handler
	require.NotPanics(t, func() { h = Middleware(memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), nil)(nil) })
	require.Equal(t, http.StatusInternalServerError, serve(h, "192.0.2.1:1").Code)
}

// Over a real connection: what a client actually receives.
func TestMiddlewareOverHTTP(t *testing.T) {
	clk := newMWClock()
	srv := httptest.NewServer(Middleware(memLimiter(t, clk, TokenBucket, PerSecond(1)), nil, WithLegacyHeaders())(&countingHandler{}))
	defer srv.Close()
	get := func() *http.Response {
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		return resp
	}
	require.Equal(t, http.StatusOK, get().StatusCode)
	resp := get()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Equal(t, `"default";r=0;t=1`, resp.Header.Get("RateLimit"))
	require.Equal(t, `"default";q=1;w=1`, resp.Header.Get("RateLimit-Policy"))
	require.Equal(t, "0", resp.Header.Get("X-RateLimit-Remaining"))
	clk.Advance(time.Second)
	require.Equal(t, http.StatusOK, get().StatusCode)
}

func TestMiddlewareConcurrentRequests(t *testing.T) {
	h, next := newHandler(t, memLimiter(t, newMWClock(), SlidingWindowLog, PerMinute(25)), nil)
	var wg sync.WaitGroup
	var denied atomic.Int64
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if serve(h, "192.0.2."+strconv.Itoa(i%2)+":1").Code == http.StatusTooManyRequests {
				denied.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, 50, next.n.Load(), "exactly 25 per client")
	require.EqualValues(t, 50, denied.Load())
}
