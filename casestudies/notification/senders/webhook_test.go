package senders

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhookSignsAndPosts(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	type received struct {
		body      []byte
		sig, ts   string
		id, ctype string
	}
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{b, r.Header.Get(SignatureHeader), r.Header.Get(TimestampHeader), r.Header.Get(IDHeader), r.Header.Get("Content-Type")}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: "s3cret", Clock: func() time.Time { return now }})
	require.NoError(t, err)

	m := Message{ID: "n1:push", Channel: "push", To: "u1", Priority: "high", Subject: "Hi", Body: "hello", Attempt: 2}
	require.NoError(t, wh.Send(context.Background(), m))
	r := <-got
	assert.Equal(t, "n1:push", r.id)
	assert.Equal(t, "application/json", r.ctype)
	assert.Equal(t, strconv.FormatInt(now.Unix(), 10), r.ts)
	assert.True(t, hmac.Equal([]byte(Sign([]byte("s3cret"), r.ts, r.body)), []byte(r.sig)), "signature verifies")
	assert.False(t, hmac.Equal([]byte(Sign([]byte("other"), r.ts, r.body)), []byte(r.sig)), "another secret does not")
	var body webhookBody
	require.NoError(t, json.Unmarshal(r.body, &body))
	assert.Equal(t, webhookBody{ID: "n1:push", Channel: "push", To: "u1", Priority: "high", Subject: "Hi", Body: "hello", Attempt: 2}, body)
}

func TestSignKnownVector(t *testing.T) {
	// HMAC-SHA256(key "key", "1.body"), computed independently with openssl:
	// printf '1.body' | openssl dgst -sha256 -hmac key
	assert.Equal(t, "sha256=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5", Sign([]byte("key"), "1", []byte("body")))
	assert.NotEqual(t, Sign([]byte("key"), "1", []byte("body")), Sign([]byte("key"), "2", []byte("body")), "timestamp is signed")
}

func TestWebhookClassifiesAnswers(t *testing.T) {
	cases := []struct {
		status    int
		permanent bool
	}{
		{http.StatusBadRequest, true},
		{http.StatusNotFound, true},
		{http.StatusGone, true},
		{http.StatusRequestTimeout, false},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusServiceUnavailable, false},
	}
	for _, c := range cases {
		t.Run(strconv.Itoa(c.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "nope", c.status)
			}))
			defer srv.Close()
			wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: "s"})
			require.NoError(t, err)
			err = wh.Send(context.Background(), Message{ID: "x"})
			require.Error(t, err)
			assert.Contains(t, err.Error(), strconv.Itoa(c.status))
			assert.Contains(t, err.Error(), "nope")
			assert.Equal(t, c.permanent, IsPermanent(err))
		})
	}
}

func TestWebhookTimeoutIsTransient(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	wh, err := NewWebhook(WebhookConfig{URL: srv.URL, Secret: "s", Timeout: 50 * time.Millisecond})
	require.NoError(t, err)
	start := time.Now()
	err = wh.Send(context.Background(), Message{ID: "x"})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, IsPermanent(err))
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestWebhookUnreachableIsTransient(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	wh, err := NewWebhook(WebhookConfig{URL: url, Secret: "s"})
	require.NoError(t, err)
	err = wh.Send(context.Background(), Message{ID: "x"})
	require.Error(t, err)
	assert.False(t, IsPermanent(err))
}

func TestNewWebhookRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]WebhookConfig{
		"no url":           {Secret: "s"},
		"relative url":     {URL: "/hook", Secret: "s"},
		"ftp url":          {URL: "ftp://x/y", Secret: "s"},
		"no secret":        {URL: "http://x/y"},
		"negative timeout": {URL: "http://x/y", Secret: "s", Timeout: -time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewWebhook(cfg)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad address")
	assert.Nil(t, Permanent(nil))
	assert.False(t, IsPermanent(nil))
	assert.False(t, IsPermanent(base))
	p := Permanent(base)
	assert.True(t, IsPermanent(p))
	assert.ErrorIs(t, p, base)
	assert.True(t, IsPermanent(errors.Join(errors.New("ctx"), p)), "wrapped stays permanent")
}
