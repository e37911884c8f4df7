package notify

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/ratelimit"
)

func TestCriticalArrivingLastIsDeliveredFirst(t *testing.T) {
	testCriticalArrivingLastIsDeliveredFirst(t)
}

func testCriticalArrivingLastIsDeliveredFirst(t *testing.T, opts ...harnessOption) {
	h := newHarnessAt(t, clockAtStart(), false, append(opts, func(c *Config) { c.Workers = 1 })...)
	var normals []string
	for i := range 20 {
		normals = append(normals, h.post(map[string]any{"user_id": fmt.Sprintf("u%d", i), "channels": []string{"push"}, "body": "n"}))
	}
	low := h.post(map[string]any{"user_id": "low", "channels": []string{"push"}, "priority": "low", "body": "l"})
	high := h.post(map[string]any{"user_id": "high", "channels": []string{"push"}, "priority": "high", "body": "h"})
	critical := h.post(map[string]any{"user_id": "boss", "channels": []string{"push"}, "priority": "critical", "body": "c"})
	h.start()
	eventually(t, func() bool { return len(h.sent()) == 23 }, "not all sent")
	order := h.sent()
	assert.Equal(t, critical+".push", order[0].ID, "critical first")
	assert.Equal(t, high+".push", order[1].ID, "then high")
	for i, id := range normals {
		assert.Equal(t, id+".push", order[2+i].ID, "normals in arrival order")
	}
	assert.Equal(t, low+".push", order[22].ID, "low last")
}

func TestOptedOutChannelIsSkipped(t *testing.T) { testOptedOutChannelIsSkipped(t) }

func testOptedOutChannelIsSkipped(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, opts...)
	// Read first, so the cached default must be invalidated by the update.
	var p Preferences
	require.Equal(t, http.StatusOK, h.do("GET", "/api/users/ann/preferences", nil, &p))
	assert.Equal(t, []string{}, p.OptOut)
	require.Equal(t, http.StatusOK, h.do("PUT", "/api/users/ann/preferences", map[string]any{"opt_out": []string{"sms"}}, &p))
	assert.Equal(t, []string{"sms"}, p.OptOut)

	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"email", "sms"}, "body": "b"})
	h.waitStatus(id, "email", Sent)
	v := h.waitStatus(id, "sms", Skipped)
	assert.Equal(t, "user opted out of sms", v.Channels["sms"].Reason)
	assert.Equal(t, []Status{Queued, Skipped}, statuses(v.Channels["sms"]))
	assert.Zero(t, h.cons["sms"].Sent()+h.cons["sms"].Failed(), "sms provider never called")

	// Opting back in applies to the next dispatch at once.
	require.Equal(t, http.StatusOK, h.do("PUT", "/api/users/ann/preferences", map[string]any{"opt_out": []string{}}, nil))
	id = h.post(map[string]any{"user_id": "ann", "channels": []string{"sms"}, "body": "b"})
	h.waitStatus(id, "sms", Sent)
}

func TestPreferencesValidation(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		body  any
		field string
	}{
		{map[string]any{"opt_out": []string{"fax"}}, "opt_out[0]"},
		{map[string]any{"quiet_hours": map[string]any{"from": "22:00", "to": "07:00", "tz": "Mars/Olympus"}}, "quiet_hours.tz"},
		{map[string]any{"quiet_hours": map[string]any{"from": "22:00", "to": "07:00"}}, "quiet_hours.tz"},
		{map[string]any{"quiet_hours": map[string]any{"from": "25:00", "to": "07:00", "tz": "UTC"}}, "quiet_hours.from"},
		{map[string]any{"quiet_hours": map[string]any{"from": "22:00", "to": "7:00", "tz": "UTC"}}, "quiet_hours.to"},
		{map[string]any{"quiet_hours": map[string]any{"from": "22:00", "to": "22:00", "tz": "UTC"}}, "quiet_hours.to"},
		{map[string]any{"quiet_hours": map[string]any{"from": "22:00", "to": "07:00", "tz": "UTC", "x": 1}}, "x"},
		{map[string]any{"opt_in": []string{}}, "opt_in"},
		{`{"opt_out": "sms"}`, "opt_out"},
	}
	for _, c := range cases {
		var res fieldError
		assert.Equal(t, http.StatusBadRequest, h.do("PUT", "/api/users/ann/preferences", c.body, &res), "%v", c.body)
		assert.Equal(t, c.field, res.Field, "%v", c.body)
	}
	var res fieldError
	assert.Equal(t, http.StatusBadRequest, h.do("PUT", "/api/users/%7Bann%7D/preferences", map[string]any{}, &res))
	assert.Equal(t, "id", res.Field)
}

func TestQuietHoursAcrossTimeZones(t *testing.T) { testQuietHoursAcrossTimeZones(t) }

func testQuietHoursAcrossTimeZones(t *testing.T, opts ...harnessOption) {
	// 2023-11-14 22:13:20 UTC: 23:13 in Berlin (quiet), 17:13 in New York (not).
	h := newHarness(t, opts...)
	quiet := map[string]any{"from": "22:00", "to": "07:00"}
	for user, tz := range map[string]string{"berlin": "Europe/Berlin", "newyork": "America/New_York"} {
		q := map[string]any{"from": quiet["from"], "to": quiet["to"], "tz": tz}
		require.Equal(t, http.StatusOK, h.do("PUT", "/api/users/"+user+"/preferences", map[string]any{"quiet_hours": q}, nil))
	}
	ny := h.post(map[string]any{"user_id": "newyork", "channels": []string{"email"}, "body": "b"})
	berlin := h.post(map[string]any{"user_id": "berlin", "channels": []string{"email"}, "body": "b"})
	urgent := h.post(map[string]any{"user_id": "berlin", "channels": []string{"email"}, "priority": "critical", "body": "b"})
	h.waitStatus(ny, "email", Sent)
	h.waitStatus(urgent, "email", Sent)
	v := h.waitStatus(berlin, "email", Deferred)
	end := time.Date(2023, 11, 15, 6, 0, 0, 0, time.UTC) // 07:00 in Berlin
	cv := v.Channels["email"]
	require.NotNil(t, cv.NextAttemptAt)
	assert.True(t, end.Equal(*cv.NextAttemptAt), "deferred to the end of quiet hours, got %v", cv.NextAttemptAt)
	assert.Equal(t, "quiet hours until 07:00 CET", cv.Reason)
	assert.Equal(t, 0, cv.Attempts, "no attempt used")

	h.clock.Set(end.Add(-time.Second))
	stays(t, func() bool { return h.view(berlin).Channels["email"].Status == Deferred }, "sent during quiet hours")
	h.clock.Set(end)
	v = h.waitStatus(berlin, "email", Sent)
	assert.Equal(t, []Status{Queued, Deferred, Sending, Sent}, statuses(v.Channels["email"]))
}

func TestQuietUntil(t *testing.T) {
	q := &QuietHours{From: "22:00", To: "07:00", TZ: "Europe/Berlin"}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	cases := []struct {
		now   time.Time
		quiet bool
		until time.Time
	}{
		{time.Date(2024, 6, 1, 21, 59, 0, 0, berlin), false, time.Time{}},
		{time.Date(2024, 6, 1, 22, 0, 0, 0, berlin), true, time.Date(2024, 6, 2, 7, 0, 0, 0, berlin)},
		{time.Date(2024, 6, 2, 3, 0, 0, 0, berlin), true, time.Date(2024, 6, 2, 7, 0, 0, 0, berlin)},
		{time.Date(2024, 6, 2, 7, 0, 0, 0, berlin), false, time.Time{}},
		// The night DST starts in Berlin (31 March 2024, 02:00 → 03:00).
		{time.Date(2024, 3, 30, 23, 0, 0, 0, berlin), true, time.Date(2024, 3, 31, 7, 0, 0, 0, berlin)},
	}
	for _, c := range cases {
		until, quiet := q.quietUntil(c.now.UTC())
		assert.Equal(t, c.quiet, quiet, "%v", c.now)
		if c.quiet {
			assert.True(t, c.until.Equal(until), "%v: until %v, want %v", c.now, until, c.until)
		}
	}
	day := &QuietHours{From: "12:00", To: "13:00", TZ: "UTC"}
	_, quiet := day.quietUntil(time.Date(2024, 1, 1, 12, 30, 0, 0, time.UTC))
	assert.True(t, quiet)
	_, quiet = day.quietUntil(time.Date(2024, 1, 1, 23, 30, 0, 0, time.UTC))
	assert.False(t, quiet)
	_, quiet = (*QuietHours)(nil).quietUntil(time.Now())
	assert.False(t, quiet)
}

func TestTransientFailuresRetryWithExactBackoff(t *testing.T) {
	testTransientFailuresRetryWithExactBackoff(t)
}

func testTransientFailuresRetryWithExactBackoff(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, append(opts, func(c *Config) { c.BreakerThreshold = 100 })...)
	h.cons["email"].FailNext(2)
	t0 := h.clock.Now()
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "b"})

	v := h.waitAttempt(id, "email", Retrying, 1)
	require.True(t, t0.Add(2*time.Second).Equal(*v.Channels["email"].NextAttemptAt), "first retry after 2^1 s")
	h.clock.Advance(2*time.Second - time.Millisecond)
	stays(t, func() bool { return h.cons["email"].Failed() == 1 }, "retried early")
	h.clock.Advance(time.Millisecond)
	eventually(t, func() bool { return h.cons["email"].Failed() == 2 }, "second attempt never ran")

	v = h.waitAttempt(id, "email", Retrying, 2)
	require.True(t, t0.Add(6*time.Second).Equal(*v.Channels["email"].NextAttemptAt), "second retry after 2^2 s")
	h.clock.Advance(4*time.Second - time.Millisecond)
	stays(t, func() bool { return h.cons["email"].Sent() == 0 }, "retried early")
	h.clock.Advance(time.Millisecond)
	v = h.waitStatus(id, "email", Sent)
	cv := v.Channels["email"]
	assert.Equal(t, 3, cv.Attempts)
	assert.Equal(t, []Status{Queued, Sending, Retrying, Sending, Retrying, Sending, Sent}, statuses(cv))
	assert.Equal(t, uint64(2), h.svc.Stats().Retried)
}

func TestAttemptsRunOutThenFailed(t *testing.T) { testAttemptsRunOutThenFailed(t) }

func testAttemptsRunOutThenFailed(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, append(opts, func(c *Config) { c.BreakerThreshold = 100; c.MaxAttempts = 3 })...)
	h.cons["sms"].SetDown(true)
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"sms"}, "body": "b"})
	for i, wait := range []time.Duration{2 * time.Second, 4 * time.Second} {
		eventually(t, func() bool {
			cv := h.view(id).Channels["sms"]
			return cv.Status == Retrying && cv.Attempts == i+1
		}, "attempt %d never failed", i+1)
		h.clock.Advance(wait)
	}
	v := h.waitStatus(id, "sms", Failed)
	cv := v.Channels["sms"]
	assert.Equal(t, 3, cv.Attempts)
	assert.Contains(t, cv.Reason, "gave up after 3 attempts")
	assert.Contains(t, cv.Reason, "provider down")
	assert.Equal(t, int64(3), h.cons["sms"].Failed())
}

func TestPermanentFailureFailsAtOnce(t *testing.T) { testPermanentFailureFailsAtOnce(t) }

func testPermanentFailureFailsAtOnce(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, opts...)
	h.cons["email"].SetPermanent(true)
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"email", "push"}, "body": "b"})
	v := h.waitStatus(id, "email", Failed)
	cv := v.Channels["email"]
	assert.Equal(t, 1, cv.Attempts)
	assert.Contains(t, cv.Reason, "recipient rejected")
	assert.Equal(t, []Status{Queued, Sending, Failed}, statuses(cv))
	h.waitStatus(id, "push", Sent)
	assert.Equal(t, breakerState(h, "email"), "closed", "a permanent failure is not the provider's")
}

func breakerState(h *harness, ch string) string { return h.svc.breakers[ch].State().String() }

func TestOpenCircuitDefersWithoutUsingAttempts(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Workers = 1; c.BreakerThreshold = 2; c.BreakerTimeout = 30 * time.Second })
	h.cons["push"].SetDown(true)
	a := h.post(map[string]any{"user_id": "a", "channels": []string{"push"}, "body": "b"})
	h.waitStatus(a, "push", Retrying)
	b := h.post(map[string]any{"user_id": "b", "channels": []string{"push"}, "body": "b"})
	h.waitStatus(b, "push", Retrying)
	eventually(t, func() bool { return breakerState(h, "push") == "open" }, "circuit never opened")
	opened := h.clock.Now()

	c := h.post(map[string]any{"user_id": "c", "channels": []string{"push"}, "body": "b"})
	v := h.waitStatus(c, "push", Deferred)
	cv := v.Channels["push"]
	assert.Equal(t, "provider circuit open", cv.Reason)
	assert.True(t, opened.Add(30*time.Second).Equal(*cv.NextAttemptAt), "deferred until the circuit may half-open")
	assert.Equal(t, int64(2), h.cons["push"].Failed(), "no attempt while open")

	// a and b come due at +2s: deferred too, their attempts kept.
	h.clock.Advance(2 * time.Second)
	h.waitStatus(a, "push", Deferred)
	h.waitStatus(b, "push", Deferred)
	assert.Equal(t, int64(2), h.cons["push"].Failed())

	// The provider recovers; after the open timeout one probe closes the circuit.
	h.cons["push"].SetDown(false)
	h.clock.Set(opened.Add(30 * time.Second))
	for _, id := range []string{a, b, c} {
		h.waitStatus(id, "push", Sent)
	}
	eventually(t, func() bool { return breakerState(h, "push") == "closed" }, "circuit never closed")
	assert.Equal(t, 2, h.view(a).Channels["push"].Attempts, "a: one failed attempt, one that succeeded")
	assert.Equal(t, 1, h.view(c).Channels["push"].Attempts)
	var circuit []Status
	h.mu.Lock()
	for _, e := range h.events {
		if e.Kind == EventCircuit {
			circuit = append(circuit, e.Status)
		}
	}
	h.mu.Unlock()
	assert.Equal(t, []Status{"open", "half-open", "closed"}, circuit)
}

func TestRateLimitDefers(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.NoUserRate = false; c.UserRate = ratelimit.PerMinute(2); c.Workers = 1 })
	var ids []string
	for range 3 {
		ids = append(ids, h.post(map[string]any{"user_id": "ann", "channels": []string{"sms"}, "body": "b"}))
	}
	h.waitStatus(ids[0], "sms", Sent)
	h.waitStatus(ids[1], "sms", Sent)
	v := h.waitStatus(ids[2], "sms", Deferred)
	cv := v.Channels["sms"]
	assert.Equal(t, "rate limit", cv.Reason)
	assert.True(t, h.clock.Now().Add(30*time.Second).Equal(*cv.NextAttemptAt), "one token refills in 30 s, got %v", cv.NextAttemptAt)
	other := h.post(map[string]any{"user_id": "bob", "channels": []string{"sms"}, "body": "b"})
	h.waitStatus(other, "sms", Sent) // per user
	h.clock.Advance(30 * time.Second)
	v = h.waitStatus(ids[2], "sms", Sent)
	assert.Equal(t, 1, v.Channels["sms"].Attempts)
}

func TestScheduledDeliveredOnTime(t *testing.T) { testScheduledDeliveredOnTime(t) }

func testScheduledDeliveredOnTime(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, opts...)
	at := h.clock.Now().Add(10 * time.Minute).UTC()
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "later", "send_at": at.Format(time.RFC3339)})
	v := h.view(id)
	assert.Equal(t, Scheduled, v.Channels["email"].Status)
	require.NotNil(t, v.SendAt)
	assert.True(t, at.Equal(*v.SendAt))
	h.clock.Advance(10*time.Minute - time.Second)
	stays(t, func() bool { return h.cons["email"].Sent() == 0 }, "sent before send_at")
	h.clock.Advance(time.Second)
	v = h.waitStatus(id, "email", Sent)
	assert.Equal(t, []Status{Scheduled, Sending, Sent}, statuses(v.Channels["email"]))
}

func TestCancelBeforeStart(t *testing.T) { testCancelBeforeStart(t) }

func testCancelBeforeStart(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, opts...)
	at := h.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"email", "sms"}, "body": "b", "send_at": at})
	var res cancelResult
	require.Equal(t, http.StatusOK, h.do("DELETE", "/api/notifications/"+id, nil, &res))
	assert.Equal(t, []string{"email", "sms"}, res.Cancelled)
	assert.Empty(t, res.NotCancelled)
	h.clock.Advance(2 * time.Hour)
	stays(t, func() bool { return len(h.sent()) == 0 }, "a cancelled notification was sent")
	v := h.view(id)
	assert.Equal(t, []Status{Scheduled, Cancelled}, statuses(v.Channels["email"]))

	// A sent one is not cancelled, and says why.
	done := h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
	h.waitStatus(done, "push", Sent)
	require.Equal(t, http.StatusOK, h.do("DELETE", "/api/notifications/"+done, nil, &res))
	assert.Empty(t, res.Cancelled)
	assert.Equal(t, map[string]string{"push": "sent"}, res.NotCancelled)
	assert.Equal(t, uint64(2), h.svc.Stats().Cancelled)
}

func TestCancelRacesWorkers(t *testing.T) { testCancelRacesWorkers(t) }

func testCancelRacesWorkers(t *testing.T, opts ...harnessOption) {
	// Whatever the interleaving, a channel is either cancelled or
	// delivered, never both, and the answer says which.
	h := newHarness(t, opts...)
	for range 25 {
		id := h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
		var res cancelResult
		require.Equal(t, http.StatusOK, h.do("DELETE", "/api/notifications/"+id, nil, &res))
		if len(res.Cancelled) == 1 {
			stays(t, func() bool { return h.view(id).Channels["push"].Status == Cancelled }, "cancelled, then changed")
			for _, m := range h.sent() {
				require.NotEqual(t, id+".push", m.ID, "cancelled and sent")
			}
		} else {
			h.waitStatus(id, "push", Sent)
		}
	}
}

func TestAgedLowOvertakesFreshNormals(t *testing.T) {
	h := newHarnessAt(t, clockAtStart(), false, func(c *Config) { c.Workers = 1; c.Aging = 10 * time.Second })
	low := h.post(map[string]any{"user_id": "old", "channels": []string{"push"}, "priority": "low", "body": "l"})
	h.clock.Advance(25 * time.Second) // two and a half aging periods: Low now competes above Normal
	var normals []string
	for i := range 5 {
		normals = append(normals, h.post(map[string]any{"user_id": fmt.Sprintf("u%d", i), "channels": []string{"push"}, "body": "n"}))
	}
	fresh := h.post(map[string]any{"user_id": "fresh", "channels": []string{"push"}, "priority": "low", "body": "l"})
	h.start()
	eventually(t, func() bool { return len(h.sent()) == 7 }, "not all sent")
	order := h.sent()
	assert.Equal(t, low+".push", order[0].ID, "the aged low goes first")
	for i, id := range normals {
		assert.Equal(t, id+".push", order[1+i].ID, "normals in arrival order")
	}
	assert.Equal(t, fresh+".push", order[6].ID, "a fresh low still waits behind normals")
}
