package shortener

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/ratelimit"
)

// outageTimeout is the WriteTimeout of the outage tests: short, so the
// bounds are quick to check.
const outageTimeout = 300 * time.Millisecond

// While Redis is frozen, links this instance resolved keep redirecting,
// creates answer 503 within WriteTimeout with a JSON error, and once Redis
// is back nothing is half-written: the URL whose create failed gets one
// code, and keeps it.
func TestFaultsRedisFrozen(t *testing.T) {
	srv := redistest.StartServer(t)
	client, _ := srv.Client()
	s := start(t, Config{Redis: client, WriteTimeout: outageTimeout})
	s.shutdownMayFail = true
	code := s.mustCreate(map[string]any{"url": "https://example.com/cached"})
	require.Equal(t, http.StatusFound, s.get("/"+code).status)

	srv.Freeze()
	for i := range 5 {
		began := time.Now()
		r := s.get("/" + code)
		require.Equal(t, http.StatusFound, r.status, "cached redirect %d while Redis is frozen: %s", i, r.body)
		require.Equal(t, "https://example.com/cached", r.header.Get("Location"))
		require.Less(t, time.Since(began), 2*outageTimeout+redistest.Slack+time.Second, "bounded")
	}
	began := time.Now()
	r := s.create(map[string]any{"url": "https://example.com/during-outage"})
	elapsed := time.Since(began)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	require.NotEmpty(t, r.json(t)["error"])
	require.Equal(t, "1", r.header.Get("Retry-After"))
	// The first request after the freeze also waits for the Redis rate
	// limiter's own bound before it falls back to the local one.
	if _, late := redistest.Late(began, ratelimit.DefaultTimeout+outageTimeout); late {
		t.Fatalf("create took %v; bound %v", elapsed, ratelimit.DefaultTimeout+outageTimeout)
	}
	require.Equal(t, http.StatusOK, s.get("/healthz").status, "still serving: stay in rotation")

	srv.Thaw()
	srv.AwaitAnswer()
	var fresh string
	require.Eventually(t, func() bool {
		r := s.create(map[string]any{"url": "https://example.com/during-outage"})
		if r.status == http.StatusCreated || r.status == http.StatusOK {
			fresh = r.json(t)["code"].(string)
			return true
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
	again := s.create(map[string]any{"url": "https://example.com/during-outage"})
	require.Equal(t, http.StatusOK, again.status, "%s", again.body)
	require.Equal(t, fresh, again.json(t)["code"], "one code for the URL, whatever the outage left")
	require.Equal(t, http.StatusFound, s.get("/"+fresh).status)
}

// A killed Redis refuses connections: creates fail at once, cached
// redirects go on.
func TestFaultsRedisKilled(t *testing.T) {
	srv := redistest.StartServer(t)
	client, _ := srv.Client()
	s := start(t, Config{Redis: client, WriteTimeout: outageTimeout})
	s.shutdownMayFail = true
	code := s.mustCreate(map[string]any{"url": "https://example.com/survives"})
	require.Equal(t, http.StatusFound, s.get("/"+code).status)

	srv.Kill()
	// Past the Tiered's subscription health check, which empties its local
	// tier once it notices Redis is gone.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		r := s.get("/" + code)
		require.Equal(t, http.StatusFound, r.status, "%s", r.body)
		time.Sleep(100 * time.Millisecond)
	}
	began := time.Now()
	r := s.create(map[string]any{"url": "https://example.com/not-now"})
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	require.Less(t, time.Since(began), outageTimeout+time.Second)
	r = s.get("/unknown-code")
	require.Equal(t, http.StatusServiceUnavailable, r.status, "an unknown code cannot be told from a new one: 503, not 404")
	require.NotEmpty(t, r.json(t)["error"])
}
