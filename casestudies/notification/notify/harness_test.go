package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/internal/clocktest"
)

// harness is a service on a fake clock with console senders for email, sms
// and push, served by httptest.
type harness struct {
	t     testing.TB
	clock *clocktest.Clock
	svc   *Service
	srv   *httptest.Server
	cons  map[string]*senders.Console

	// crashed: the test cut this instance off Redis, so its shutdown
	// cannot release its leases and fails.
	crashed bool

	mu     sync.Mutex
	events []Event
	sends  []senders.Message // successful sends, in order
}

type harnessOption func(*Config)

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	return newHarnessAt(t, clocktest.New(), true, opts...)
}

// newHarnessAt builds a harness; start false leaves the workers stopped
// until h.start.
func newHarnessAt(t testing.TB, clock *clocktest.Clock, start bool, opts ...harnessOption) *harness {
	t.Helper()
	h := &harness{t: t, clock: clock, cons: map[string]*senders.Console{}}
	cfg := Config{
		Senders:          map[string]senders.Sender{},
		Workers:          4,
		Clock:            clock.Now,
		PollInterval:     2 * time.Millisecond,
		ExactRetryDelays: true,
		NoUserRate:       true,
		Observer: func(e Event) {
			h.mu.Lock()
			h.events = append(h.events, e)
			h.mu.Unlock()
		},
	}
	for _, ch := range []string{"email", "sms", "push"} {
		c := senders.NewConsole(ch, nil)
		c.Observe(func(m senders.Message, err error) {
			if err == nil {
				h.mu.Lock()
				h.sends = append(h.sends, m)
				h.mu.Unlock()
			}
		})
		h.cons[ch] = c
		cfg.Senders[ch] = c
	}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := New(cfg)
	require.NoError(t, err)
	h.svc = svc
	h.srv = httptest.NewServer(svc.Handler())
	t.Cleanup(func() {
		h.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); !h.crashed {
			require.NoError(t, err)
		}
	})
	if start {
		h.start()
	}
	return h
}

func (h *harness) start() { require.NoError(h.t, h.svc.Start(context.Background())) }

// do sends a request with a JSON body (a string is sent as is) and decodes
// the JSON answer into out, if given.
func (h *harness) do(method, path string, body any, out any) int {
	h.t.Helper()
	return h.doHeader(method, path, body, "", "", out)
}

// doHeader is do with one request header (none when name is empty).
func (h *harness) doHeader(method, path string, body any, name, value string, out any) int {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(h.t, err)
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, r)
	require.NoError(h.t, err)
	if name != "" {
		req.Header.Set(name, value)
	}
	resp, err := h.srv.Client().Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	if resp.StatusCode >= 500 {
		h.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		require.NoError(h.t, json.Unmarshal(raw, out), "answer %d %s", resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// post creates a notification and returns its id, retrying a 503 (or a
// 409 of a key being written) as a client following Retry-After would: a
// loaded machine can make a Redis call miss its bound.
func (h *harness) post(body map[string]any) string {
	h.t.Helper()
	var res struct{ ID string }
	code := h.postRetrying(body, &res)
	require.Equal(h.t, http.StatusAccepted, code)
	require.NotEmpty(h.t, res.ID)
	return res.ID
}

// postRetrying posts body until the answer is neither 503 nor 409 (at most
// 20 times) and returns the last status.
func (h *harness) postRetrying(body any, out any) int {
	h.t.Helper()
	code := 0
	for range 20 {
		code = h.do("POST", "/api/notifications", body, out)
		if code != http.StatusServiceUnavailable && code != http.StatusConflict {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return code
}

func (h *harness) view(id string) View {
	h.t.Helper()
	var v View
	require.Equal(h.t, http.StatusOK, h.do("GET", "/api/notifications/"+id, nil, &v))
	return v
}

// waitStatus waits until the channel's delivery has status st and returns
// the view.
func (h *harness) waitStatus(id, channel string, st Status) View {
	h.t.Helper()
	var v View
	eventually(h.t, func() bool {
		// A 503 (Redis coming back) is "not yet", as for a polling client.
		v = View{}
		if h.do("GET", "/api/notifications/"+id, nil, &v) != http.StatusOK {
			return false
		}
		cv := v.Channels[channel]
		return cv != nil && cv.Status == st
	}, "%s %s never became %s", id, channel, st)
	return v
}

// waitAttempt waits until the channel's delivery has status st after
// attempt n: for a status that repeats (retrying, deferred), whose first
// occurrence would otherwise satisfy the wait. A quick send's "sending" is
// recorded with its outcome, so a failed second attempt moves the history
// from the first "retrying" straight to the second: only the attempt
// count tells them apart.
func (h *harness) waitAttempt(id, channel string, st Status, n int) View {
	h.t.Helper()
	var v View
	eventually(h.t, func() bool {
		v = View{}
		if h.do("GET", "/api/notifications/"+id, nil, &v) != http.StatusOK {
			return false
		}
		cv := v.Channels[channel]
		return cv != nil && cv.Status == st && cv.Attempts == n
	}, "%s %s never became %s after attempt %d", id, channel, st, n)
	return v
}

// sent returns the successful sends so far.
func (h *harness) sent() []senders.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]senders.Message(nil), h.sends...)
}

// statusEvents returns the status events of one notification's channel.
func (h *harness) statusEvents(id, channel string) []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Event
	for _, e := range h.events {
		if e.Kind == EventStatus && e.NotificationID == id && e.Channel == channel {
			out = append(out, e)
		}
	}
	return out
}

// stays checks that cond holds for a short while: for "nothing happens
// before its time" assertions on a fake clock, where the workers had the
// chance to act (several poll intervals) and did not.
func stays(t testing.TB, cond func() bool, msg string, args ...any) {
	t.Helper()
	for range 10 {
		require.Truef(t, cond(), msg, args...)
		time.Sleep(5 * time.Millisecond)
	}
}

// eventually polls cond for up to 10 s.
func eventually(t testing.TB, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(msg, args...)
		}
		time.Sleep(time.Millisecond)
	}
}

func clockAtStart() *clocktest.Clock { return clocktest.New() }

func statuses(cv *ChannelView) []Status {
	out := make([]Status, len(cv.History))
	for i, e := range cv.History {
		out[i] = e.Status
	}
	return out
}
