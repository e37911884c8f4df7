package breaker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRoundTripper(t *testing.T) {
	var status atomic.Int32
	status.Store(200)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, "body")
	}))
	defer srv.Close()

	clk := newFakeClock()
	b, err := New(Config{Name: "api", Clock: clk.Now, FailureThreshold: 3, OpenTimeout: time.Second})
	require.NoError(t, err)
	client := &http.Client{Transport: RoundTripper(b, nil)}
	get := func() (*http.Response, error) {
		resp, err := client.Get(srv.URL)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, "body", string(body), "the body reaches the caller, 5xx too")
		}
		return resp, err
	}

	for range 3 {
		resp, err := get()
		require.NoError(t, err)
		require.Equal(t, 200, resp.StatusCode)
	}
	status.Store(404) // a client error: the dependency is fine
	for range 3 {
		resp, err := get()
		require.NoError(t, err)
		require.Equal(t, 404, resp.StatusCode)
	}
	require.Equal(t, Closed, b.State())

	status.Store(503)
	for range 3 {
		resp, err := get()
		require.NoError(t, err)
		require.Equal(t, 503, resp.StatusCode)
	}
	require.Equal(t, Open, b.State())
	before := hits.Load()
	_, err = get()
	require.ErrorIs(t, err, ErrOpen)
	require.Equal(t, before, hits.Load(), "refused requests never reach the server")

	status.Store(200)
	clk.Advance(time.Second)
	resp, err := get()
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, Closed, b.State())
}

func TestRoundTripperTransportErrors(t *testing.T) {
	clk := newFakeClock()
	b, err := New(Config{Clock: clk.Now, FailureThreshold: 2})
	require.NoError(t, err)
	errDial := errors.New("dial: connection refused")
	rt := RoundTripper(b, roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errDial }))
	req := httptest.NewRequest(http.MethodGet, "http://dep.invalid/", nil)
	for range 2 {
		_, err := rt.RoundTrip(req)
		require.ErrorIs(t, err, errDial)
	}
	require.Equal(t, Open, b.State())
	_, err = rt.RoundTrip(req)
	require.ErrorIs(t, err, ErrOpen)
}

func TestRoundTripperStatusClassification(t *testing.T) {
	// IsFailure sees a *StatusError: count only 503 as a failure.
	clk := newFakeClock()
	b, err := New(Config{Clock: clk.Now, FailureThreshold: 1, IsFailure: func(err error) bool {
		var se *StatusError
		if errors.As(err, &se) {
			return se.StatusCode == http.StatusServiceUnavailable
		}
		return !errors.Is(err, context.Canceled)
	}})
	require.NoError(t, err)
	code := 500
	rt := RoundTripper(b, roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: code, Body: http.NoBody}, nil
	}))
	req := httptest.NewRequest(http.MethodGet, "http://dep.invalid/", nil)
	_, err = rt.RoundTrip(req)
	require.NoError(t, err)
	require.Equal(t, Closed, b.State())
	code = 503
	_, err = rt.RoundTrip(req)
	require.NoError(t, err)
	require.Equal(t, Open, b.State())
	require.Equal(t, "breaker: HTTP 503 Service Unavailable", (&StatusError{503}).Error())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
