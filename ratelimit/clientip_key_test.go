package ratelimit

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestClientIPInACustomKey: ClientIP keys requests exactly as the default
// key does, trusted proxies and IPv6 grouping included, so a key function
// of its own ("login:" + client) keeps IP keying behind a load balancer.
func TestClientIPInACustomKey(t *testing.T) {
	ip, err := ClientIP(WithTrustedProxies("10.0.0.0/8"), WithIPv6Prefix(48))
	require.NoError(t, err)
	key := func(r *http.Request) string { return "login:" + ip(r) }
	h, next := newHandler(t, memLimiter(t, newMWClock(), FixedWindow, PerSecond(1)), key)
	via := func(xff string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("X-Forwarded-For", xff) }
	}
	require.Equal(t, http.StatusOK, serve(h, "10.0.0.1:1", via("198.51.100.1")).Code)
	require.Equal(t, http.StatusOK, serve(h, "10.0.0.1:1", via("198.51.100.2")).Code, "clients behind the proxy are told apart")
	require.Equal(t, http.StatusTooManyRequests, serve(h, "10.0.0.2:1", via("6.6.6.6, 198.51.100.1")).Code,
		"a forged entry left of what the proxy appended changes nothing")
	require.Equal(t, http.StatusOK, serve(h, "203.0.113.9:1", via("198.51.100.3")).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "203.0.113.9:1", via("198.51.100.4")).Code,
		"an untrusted peer's header is ignored: it is keyed by its own address")
	require.Equal(t, http.StatusOK, serve(h, "10.0.0.1:1", via("2001:db8:1:2::1")).Code)
	require.Equal(t, http.StatusTooManyRequests, serve(h, "10.0.0.1:1", via("2001:db8:1:3::1")).Code, "one /48, one client")
	require.EqualValues(t, 4, next.n.Load())

	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	require.Equal(t, "198.51.100.7", ip(r))

	plain, err := ClientIP()
	require.NoError(t, err)
	require.Equal(t, "10.0.0.1", plain(r), "without trusted proxies, headers are ignored")
	r.RemoteAddr = "[2001:db8:1:2:3::1]:5"
	require.Equal(t, "2001:db8:1:2::/64", plain(r), "IPv6 grouped by DefaultIPv6Prefix")
}

func TestClientIPInvalidConfig(t *testing.T) {
	for name, opts := range map[string][]ClientIPOption{
		"nil option":         {nil},
		"bad CIDR":           {WithTrustedProxies("10.0.0/8")},
		"no CIDR":            {WithTrustedProxies()},
		"proxy header alone": {WithProxyHeader("Forwarded")},
		"unknown header":     {WithTrustedProxies("10.0.0.1"), WithProxyHeader("X-Real-IP")},
		"IPv6 prefix 0":      {WithIPv6Prefix(0)},
	} {
		f, err := ClientIP(opts...)
		require.ErrorIs(t, err, ErrInvalidConfig, name)
		require.Nil(t, f, name)
	}
}

// TestMiddlewareSkip: skipped requests reach the handler unlimited, carry
// no RateLimit fields and spend nothing.
func TestMiddlewareSkip(t *testing.T) {
	m := memLimiter(t, newMWClock(), FixedWindow, PerSecond(1))
	h, next := newHandler(t, m, nil, WithSkip(func(r *http.Request) bool { return r.URL.Path == "/healthz" }))
	health := func(r *http.Request) { r.URL.Path = "/healthz" }
	for i := 0; i < 3; i++ {
		w := serve(h, "192.0.2.1:1", health)
		require.Equal(t, http.StatusOK, w.Code)
		require.Empty(t, w.Header().Get("RateLimit"), "a skipped request is not limited")
	}
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1").Code, "skipped requests spent nothing")
	require.Equal(t, http.StatusTooManyRequests, serve(h, "192.0.2.1:1").Code)
	require.Equal(t, http.StatusOK, serve(h, "192.0.2.1:1", health).Code, "still exempt once the client is limited")
	require.EqualValues(t, 5, next.n.Load())
	require.Equal(t, Stats{Allowed: 1, Denied: 1, Keys: 1}, m.Stats(), "the limiter was asked twice")
}

// TestMiddlewareIPOptionsWithAKeyFunction: the client-IP options beside a
// key function of one's own would change nothing, so they are an error
// that points to ClientIP.
func TestMiddlewareIPOptionsWithAKeyFunction(t *testing.T) {
	m := memLimiter(t, newMWClock(), FixedWindow, PerSecond(1))
	_, err := NewMiddleware(m, func(*http.Request) string { return "k" }, WithTrustedProxies("10.0.0.0/8"))
	require.ErrorIs(t, err, ErrInvalidConfig)
	require.ErrorContains(t, err, "ClientIP")
}

// TestDeprecatedNamesStillWork: the old option names are the new ones.
func TestDeprecatedNamesStillWork(t *testing.T) {
	clk := newMWClock()
	m := memLimiter(t, clk, FixedWindow, PerSecond(1))
	denied := 0
	h, _ := newHandler(t, m, nil, TrustedProxies("10.0.0.1"), ProxyHeader("Forwarded"), IPv6Prefix(64),
		LegacyHeaders(), PolicyName("p"), OnError(func(http.ResponseWriter, *http.Request, error) bool { return false }),
		OnTooManyKeys(func(*http.Request, string) {}),
		OnDeny(func(w http.ResponseWriter, _ *http.Request, _ Decision) { denied++; w.WriteHeader(http.StatusTeapot) }))
	fwd := func(r *http.Request) { r.Header.Set("Forwarded", "for=192.0.2.9") }
	w := serve(h, "10.0.0.1:1", fwd)
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "1", w.Header().Get("X-RateLimit-Limit"))
	require.Contains(t, w.Header().Get("RateLimit"), `"p"`)
	require.Equal(t, http.StatusTeapot, serve(h, "10.0.0.1:1", fwd).Code)
	require.Equal(t, 1, denied)

	var degraded int
	l := FailOpen(answering(Decision{}, errDown), Cooldown(time.Minute), OnDegrade(func(context.Context, error) { degraded++ }))
	d, err := l.Allow(context.Background(), "k")
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.Equal(t, 1, degraded)
}
