package shortener

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/pubsub"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

// redirectMany sends n redirects of code from workers goroutines and
// returns how many were answered 302.
func (s *service) redirectMany(code string, workers, n int) int64 {
	var served atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				req, err := http.NewRequest(http.MethodGet, s.http.URL+"/"+code, nil)
				if !assert.NoError(s.t, err) {
					return
				}
				req.Header.Set("User-Agent", browserUA)
				resp, err := s.client.Do(req)
				if !assert.NoError(s.t, err) {
					return
				}
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusFound {
					served.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return served.Load()
}

// clicksStored sums the clicks of the click events in a store.
func clicksStored(t *testing.T, store cqrs.EventStore) int64 {
	t.Helper()
	events, err := store.ReadAll(context.Background(), 1, 1_000_000)
	require.NoError(t, err)
	var n int64
	for _, e := range events {
		switch e.Type {
		case analytics.EventClicked:
			n++
		case analytics.EventClicks:
			var b struct{ Clicks []struct{ N int64 } }
			require.NoError(t, json.Unmarshal(e.Data, &b))
			for _, g := range b.Clicks {
				n += g.N
			}
		}
	}
	return n
}

// testClicksExact: the statistics count exactly the redirects served, once
// the click pipeline has drained; and Shutdown flushes the clicks of the
// last redirects, which a later instance (Redis) then counts.
func testClicksExact(t *testing.T, mk starter) {
	s := mk(t, Config{})
	code := s.mustCreate(map[string]any{"url": "https://example.com/exact"})
	served := s.redirectMany(code, 16, 400)
	require.Equal(t, int64(400), served)
	// total is the count a service answers (-1 when it cannot); it runs in
	// Eventually's goroutine, so it asserts without stopping the test.
	total := func(s *service) int64 {
		resp, err := s.client.Get(s.http.URL + "/api/links/" + code + "/stats")
		if !assert.NoError(t, err) {
			return -1
		}
		defer resp.Body.Close()
		var st statsJSON
		if resp.StatusCode != http.StatusOK || !assert.NoError(t, json.NewDecoder(resp.Body).Decode(&st)) {
			return -1
		}
		assert.LessOrEqual(t, st.Total, served, "more clicks counted than redirects served")
		return st.Total
	}
	require.Eventually(t, func() bool { return total(s) == served }, 30*time.Second, 5*time.Millisecond)

	if s.srv.cfg.Redis != nil {
		return // TestRedisShutdownFlushesClicks
	}
	served += s.redirectMany(code, 8, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, s.srv.Shutdown(ctx))
	assert.Equal(t, served, clicksStored(t, s.srv.be.store), "Shutdown stored every click")
}

// TestRedisShutdownFlushesClicks: the clicks of the redirects just before
// Shutdown are published by it, and the next instance counts them all.
func TestRedisShutdownFlushesClicks(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		s := onRedis(tg)(t, Config{})
		code := s.mustCreate(map[string]any{"url": "https://example.com/flushed"})
		served := s.redirectMany(code, 8, 100)
		require.Equal(t, int64(100), served)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, s.srv.Shutdown(ctx))
		// Messages the stopped consumer had read but not started stay
		// pending in the group until their visibility timeout passes
		// (package pubsub hands back only those in flight): on miniredis
		// its clock is moved past it; a real server takes that long.
		if tg.Mini != nil {
			tg.Advance(pubsub.DefaultVisibility + time.Second)
		}
		next := start(t, Config{Redis: s.srv.cfg.Redis, Prefix: s.srv.cfg.Prefix})
		var last atomic.Int64
		ok := assert.Eventually(t, func() bool {
			st, err := next.srv.analytics.Stats(context.Background(), code)
			last.Store(st.Total)
			return err == nil && st.Total == served
		}, 2*pubsub.DefaultVisibility+10*time.Second, 5*time.Millisecond)
		assert.True(t, ok, "the clicks Shutdown flushed are counted by the next instance: %d of %d", last.Load(), served)
	})
}
