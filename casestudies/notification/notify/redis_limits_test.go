package notify

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/ratelimit"
)

// On Redis the breakers and the rate limits keep time by the server's
// clock (TIME), which a fake clock in the service cannot move. These tests
// run the service on the real clock with short windows and poll; on
// miniredis, whose clock moves only when told, realTime makes it follow
// the wall clock.

// realTime runs the service on the wall clock, as in production.
func realTime(c *Config) { c.Clock = nil }

// followWallClock keeps miniredis's TIME on the wall clock for the test.
func followWallClock(t *testing.T, tg *redistest.Target) {
	if tg.Mini == nil {
		return
	}
	tg.Mini.SetTime(time.Now())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				tg.Mini.SetTime(time.Now())
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// A provider that is down opens its circuit, shared through Redis: the
// deliveries that come due meanwhile are deferred without using an
// attempt, and all go out once it recovers and a probe closes the circuit.
func TestOpenCircuitOnRedisDefersThenDelivers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		followWallClock(t, tg)
		// The open window is long enough for the assertions below to run
		// before a probe could reach the provider while it is still down.
		const open = 3 * time.Second
		h := newHarness(t, onRedis(tg.Client, tg.Prefix), realTime, func(c *Config) {
			c.Workers = 1
			c.BreakerThreshold = 2
			c.BreakerTimeout = open
			// a's retry comes due after b's first attempt has failed.
			c.RetryBase, c.RetryMax = 500*time.Millisecond, time.Second
			c.ProbeWait = 50 * time.Millisecond
		})
		h.cons["push"].SetDown(true)
		a := h.post(map[string]any{"user_id": "a", "channels": []string{"push"}, "body": "b"})
		b := h.post(map[string]any{"user_id": "b", "channels": []string{"push"}, "body": "b"})
		eventually(t, func() bool { return breakerState(h, "push") == "open" }, "circuit never opened")

		c := h.post(map[string]any{"user_id": "c", "channels": []string{"push"}, "body": "b"})
		cv := h.waitStatus(c, "push", Deferred).Channels["push"]
		assert.Equal(t, "provider circuit open", cv.Reason)
		assert.Equal(t, 0, cv.Attempts)
		// a and b come due again 500 ms after their failure: deferred too.
		h.waitStatus(a, "push", Deferred)
		h.waitStatus(b, "push", Deferred)
		assert.Equal(t, int64(2), h.cons["push"].Failed(), "no attempt while the circuit is open")

		h.cons["push"].SetDown(false)
		for _, id := range []string{a, b, c} {
			h.waitStatus(id, "push", Sent)
		}
		assert.Equal(t, int64(2), h.cons["push"].Failed())
		assert.Equal(t, 2, h.view(a).Channels["push"].Attempts, "a: one failed attempt, one that succeeded")
		assert.Equal(t, 2, h.view(b).Channels["push"].Attempts)
		assert.Equal(t, 1, h.view(c).Channels["push"].Attempts, "c was never tried while the circuit was open")
		eventually(t, func() bool { return breakerState(h, "push") == "closed" }, "circuit never closed")
	})
}

// Over the per-user, per-channel limit (kept in Redis) a delivery is
// deferred until a token is back, without using an attempt, and then sent:
// never dropped. Other users are not held up.
func TestRateLimitOnRedisDefersNeverDrops(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		followWallClock(t, tg)
		// Two at once, then one every 2 s: the third waits about 2 s.
		limit := ratelimit.Limit{Rate: 2, Period: 4 * time.Second}
		h := newHarness(t, onRedis(tg.Client, tg.Prefix), realTime, func(c *Config) {
			c.NoUserRate = false
			c.UserRate = limit
			c.Workers = 1
		})
		var ids []string
		for range 3 {
			ids = append(ids, h.post(map[string]any{"user_id": "ann", "channels": []string{"sms"}, "body": "b"}))
		}
		h.waitStatus(ids[0], "sms", Sent)
		h.waitStatus(ids[1], "sms", Sent)
		other := h.post(map[string]any{"user_id": "bob", "channels": []string{"sms"}, "body": "b"})
		h.waitStatus(other, "sms", Sent)

		cv := h.waitStatus(ids[2], "sms", Sent).Channels["sms"]
		history := statuses(cv)
		require.Contains(t, history, Deferred, "the third was never held back: %v", history)
		assert.Equal(t, Sent, history[len(history)-1])
		assert.Equal(t, 1, cv.Attempts, "deferring used no attempt")
		deferred := cv.History[slices.Index(history, Deferred)]
		assert.Equal(t, "rate limit", deferred.Reason)
		require.NotNil(t, deferred.NextAt)
		wait := deferred.NextAt.Sub(deferred.At)
		assert.True(t, wait > time.Second && wait <= 2*time.Second+100*time.Millisecond,
			"deferred until a token is back (about 2 s), got %v", wait)
		sent := cv.History[len(cv.History)-1]
		assert.False(t, sent.At.Before(*deferred.NextAt), "sent at %v, before the limit allowed (%v)", sent.At, *deferred.NextAt)
		assert.Equal(t, int64(4), h.cons["sms"].Sent())
	})
}
