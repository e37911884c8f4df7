package notify

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/ratelimit"
)

func TestDeliversEveryChannel(t *testing.T) { testDeliversEveryChannel(t) }

func testDeliversEveryChannel(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, opts...)
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"email", "sms", "push"},
		"priority": "high", "subject": "Hello", "body": "world"})
	for _, ch := range []string{"email", "sms", "push"} {
		v := h.waitStatus(id, ch, Sent)
		cv := v.Channels[ch]
		assert.Equal(t, []Status{Queued, Sending, Sent}, statuses(cv), ch)
		assert.Equal(t, 1, cv.Attempts)
		assert.Equal(t, "ann", v.UserID)
		assert.Equal(t, "high", v.Priority)
		assert.Equal(t, "Hello", v.Subject)
		assert.Equal(t, h.clock.Now(), v.CreatedAt.Local().Round(0))
	}
	msgs := h.sent()
	require.Len(t, msgs, 3)
	for _, m := range msgs {
		assert.Equal(t, id+"."+m.Channel, m.ID)
		assert.Equal(t, "ann", m.To)
		assert.Equal(t, "world", m.Body)
		assert.Equal(t, 1, m.Attempt)
	}
	assert.Equal(t, uint64(1), h.svc.Stats().Accepted)
	assert.Equal(t, uint64(3), h.svc.Stats().Sent)
}

func TestBadInputNamesTheField(t *testing.T) {
	h := newHarness(t)
	now := h.clock.Now().UTC()
	valid := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{"user_id": "ann", "channels": []string{"email"}, "priority": "normal", "subject": "s", "body": "b"}
		change(m)
		return m
	}
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"unknown channel", valid(func(m map[string]any) { m["channels"] = []string{"email", "pigeon"} }), "channels[1]"},
		{"duplicate channel", valid(func(m map[string]any) { m["channels"] = []string{"sms", "sms"} }), "channels[1]"},
		{"no channels", valid(func(m map[string]any) { delete(m, "channels") }), "channels"},
		{"channels not a list", valid(func(m map[string]any) { m["channels"] = "email" }), "channels"},
		{"unknown priority", valid(func(m map[string]any) { m["priority"] = "urgent" }), "priority"},
		{"priority in capitals", valid(func(m map[string]any) { m["priority"] = "HIGH" }), "priority"},
		{"missing user", valid(func(m map[string]any) { delete(m, "user_id") }), "user_id"},
		{"user with a hash tag", valid(func(m map[string]any) { m["user_id"] = "{ann}" }), "user_id"},
		{"user not a string", valid(func(m map[string]any) { m["user_id"] = 42 }), "user_id"},
		{"empty body", valid(func(m map[string]any) { m["body"] = "" }), "body"},
		{"blank body", valid(func(m map[string]any) { m["body"] = "  \n" }), "body"},
		{"body over 64 KiB", valid(func(m map[string]any) { m["body"] = strings.Repeat("x", 64<<10+1) }), "body"},
		{"subject too long", valid(func(m map[string]any) { m["subject"] = strings.Repeat("x", 999) }), "subject"},
		{"send_at unparseable", valid(func(m map[string]any) { m["send_at"] = "tomorrow" }), "send_at"},
		{"send_at without zone", valid(func(m map[string]any) { m["send_at"] = "2030-01-02T15:04:05" }), "send_at"},
		{"send_at over a minute ago", valid(func(m map[string]any) { m["send_at"] = now.Add(-61 * time.Second).Format(time.RFC3339) }), "send_at"},
		{"send_at years ahead", valid(func(m map[string]any) { m["send_at"] = now.AddDate(2, 0, 0).Format(time.RFC3339) }), "send_at"},
		{"idempotency key too long", valid(func(m map[string]any) { m["idempotency_key"] = strings.Repeat("k", 129) }), "idempotency_key"},
		{"unknown field", valid(func(m map[string]any) { m["colour"] = "red" }), "colour"},
		{"malformed JSON", `{"user_id": "ann",`, ""},
		{"not JSON", `hello`, ""},
		{"empty", ``, ""},
		{"trailing data", `{"user_id":"ann","channels":["email"],"body":"b"} {}`, ""},
		{"array", `[]`, ""},
		{"request over the cap", `{"body":"` + strings.Repeat("x", MaxRequestBytes) + `"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var res fieldError
			code := h.do("POST", "/api/notifications", c.body, &res)
			assert.Equal(t, http.StatusBadRequest, code)
			assert.Equal(t, c.field, res.Field)
			assert.NotEmpty(t, res.Message)
		})
	}
	assert.Equal(t, uint64(0), h.svc.Stats().Accepted, "nothing accepted")
}

func TestSendAtWithinTheSlackIsNow(t *testing.T) {
	h := newHarness(t)
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "b",
		"send_at": h.clock.Now().Add(-59 * time.Second).UTC().Format(time.RFC3339)})
	v := h.waitStatus(id, "email", Sent)
	assert.Equal(t, "normal", v.Priority, "priority defaults to normal")
	assert.Nil(t, v.SendAt)
}

func TestIdempotencyKeyUnderConcurrency(t *testing.T) { testIdempotencyKeyUnderConcurrency(t) }

func testIdempotencyKeyUnderConcurrency(t *testing.T, opts ...harnessOption) {
	h := newHarness(t, opts...)
	const posts = 100
	ids := make([]string, posts)
	var wg sync.WaitGroup
	for i := range posts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var res struct{ ID string }
			code := h.postRetrying(map[string]any{"user_id": "ann", "channels": []string{"email", "sms"},
				"body": "once", "idempotency_key": "order-42"}, &res)
			assert.Equal(t, http.StatusAccepted, code)
			ids[i] = res.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id, "every post answered with the first id")
	}
	h.waitStatus(ids[0], "email", Sent)
	h.waitStatus(ids[0], "sms", Sent)
	assert.Len(t, h.sent(), 2, "one notification, two channels")
	assert.Equal(t, uint64(1), h.svc.Stats().Accepted)
	assert.Equal(t, uint64(posts-1), h.svc.Stats().Duplicates)

	// Another user's identical key is another notification.
	other := h.post(map[string]any{"user_id": "bob", "channels": []string{"email"}, "body": "x", "idempotency_key": "order-42"})
	assert.NotEqual(t, ids[0], other)
	// The header works as the field does.
	var res struct{ ID string }
	req := map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "x"}
	code := h.doHeader("POST", "/api/notifications", req, "Idempotency-Key", "order-42", &res)
	assert.Equal(t, http.StatusAccepted, code)
	assert.Equal(t, ids[0], res.ID)

	if h.svc.cfg.Redis != nil {
		return // Redis expires the key on its own clock: TestTwoInstancesShareOneRedis checks its TTL
	}
	// After 24 h the key is forgotten.
	h.clock.Advance(DefaultIdempotencyTTL)
	again := h.post(map[string]any{"user_id": "ann", "channels": []string{"email"}, "body": "x", "idempotency_key": "order-42"})
	assert.NotEqual(t, ids[0], again)
}

func TestUnknownNotification(t *testing.T) {
	h := newHarness(t)
	var res fieldError
	assert.Equal(t, http.StatusNotFound, h.do("GET", "/api/notifications/n00000000000000000000", nil, &res))
	assert.Equal(t, "id", res.Field)
	assert.Equal(t, http.StatusNotFound, h.do("GET", "/api/notifications/../../etc", nil, nil))
	assert.Equal(t, http.StatusNotFound, h.do("DELETE", "/api/notifications/nope", nil, &res))
	assert.Equal(t, http.StatusNotFound, h.do("GET", "/api/nothing", nil, &res))
}

func TestHealthz(t *testing.T) {
	h := newHarnessAt(t, clockAtStart(), false)
	assert.Equal(t, http.StatusServiceUnavailable, h.do("GET", "/healthz", nil, nil))
	h.start()
	var res map[string]string
	assert.Equal(t, http.StatusOK, h.do("GET", "/healthz", nil, &res))
	assert.Equal(t, "ok", res["status"])
}

func TestNewRejectsBadConfig(t *testing.T) {
	ok := newHarness(t).svc.cfg
	cases := map[string]func(c *Config){
		"no senders":         func(c *Config) { c.Senders = nil },
		"bad channel name":   func(c *Config) { c.Senders = map[string]senders.Sender{"E Mail": c.Senders["email"]} },
		"nil sender":         func(c *Config) { c.Senders = map[string]senders.Sender{"email": nil} },
		"negative workers":   func(c *Config) { c.Workers = -1 },
		"negative retry":     func(c *Config) { c.RetryBase = -time.Second },
		"max below base":     func(c *Config) { c.RetryBase, c.RetryMax = time.Minute, time.Second },
		"negative attempts":  func(c *Config) { c.MaxAttempts = -2 },
		"bad user rate":      func(c *Config) { c.NoUserRate, c.UserRate = false, ratelimit.Limit{Rate: -1, Period: time.Second} },
		"negative threshold": func(c *Config) { c.BreakerThreshold = -1 },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			c := ok
			c.Senders = maps.Clone(ok.Senders)
			change(&c)
			_, err := New(c)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestFuzzSeedsNever5xx(t *testing.T) {
	h := newHarness(t)
	for i, body := range []string{`{"user_id":null}`, `{"channels":[null]}`, `{"channels":[1]}`, `{"send_at":1}`,
		`{"priority":{}}`, `{"body":"\u0000"}`, `"str"`, `null`, `{}`, `{"user_id":"a","channels":["email"],"body":"\ud800"}`} {
		code := h.do("POST", "/api/notifications", body, nil)
		assert.Less(t, code, 500, "case %d %s", i, body)
	}
}
