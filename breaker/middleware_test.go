package breaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serve runs one GET through h and returns the recorded answer.
func serve(h http.Handler) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/quote", nil))
	return rec
}

func TestMiddleware(t *testing.T) {
	clk := newFakeClock()
	b := newMemory(t, Config{Clock: clk.Now, FailureThreshold: 2, OpenTimeout: 1500 * time.Millisecond})
	status, calls := http.StatusOK, 0
	h := Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		if status != http.StatusOK {
			w.WriteHeader(status)
		}
		_, _ = fmt.Fprint(w, "quote")
	}))

	rec := serve(h)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "quote", rec.Body.String())
	require.Empty(t, rec.Header().Get("Retry-After"))

	status = http.StatusNotFound // the handler answered: a success
	require.Equal(t, http.StatusNotFound, serve(h).Code)
	status = http.StatusBadGateway
	require.Equal(t, http.StatusBadGateway, serve(h).Code)
	require.Equal(t, Closed, b.State())
	require.Equal(t, http.StatusBadGateway, serve(h).Code, "the handler's own 5xx reaches the client")
	require.Equal(t, Open, b.State(), "two 5xx in a row open the circuit")
	require.Equal(t, 4, calls)

	clk.Advance(100 * time.Millisecond) // 1.4s left: rounded up to 2
	rec = serve(h)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "2", rec.Header().Get("Retry-After"))
	require.Equal(t, 4, calls, "a refused request never reaches the handler")
	require.Equal(t, uint64(1), b.Metrics().Rejections)

	clk.Advance(400 * time.Millisecond) // exactly 1s left
	require.Equal(t, "1", serve(h).Header().Get("Retry-After"))

	clk.Advance(time.Second) // the probe succeeds and closes the circuit
	status = http.StatusOK
	require.Equal(t, http.StatusOK, serve(h).Code)
	require.Equal(t, Closed, b.State())
	require.Equal(t, 5, calls)
}

func TestMiddlewareCountsAPanicAsAFailure(t *testing.T) {
	b := newMemory(t, Config{FailureThreshold: 1, OpenTimeout: time.Hour})
	h := Middleware(b)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	require.PanicsWithValue(t, http.ErrAbortHandler, func() { serve(h) }, "net/http recovers it, not the breaker")
	require.Equal(t, Open, b.State())
	rec := serve(h)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "3600", rec.Header().Get("Retry-After"))
}

func TestMiddlewareImplicitStatusAndFlush(t *testing.T) {
	b := newMemory(t, Config{FailureThreshold: 1})
	h := Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush() // streaming handlers keep working
		w.WriteHeader(http.StatusInternalServerError)
	}))
	rec := serve(h)
	require.True(t, rec.Flushed)
	require.Equal(t, http.StatusOK, rec.Code, "flushed first: the status was 200")
	require.Equal(t, Closed, b.State(), "judged by the status the client got")
}

func TestMiddlewareHalfOpenRefusal(t *testing.T) {
	clk := newFakeClock()
	b := newMemory(t, Config{Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second})
	mustRun(t, b, fail)
	clk.Advance(time.Second)
	release, res := goCall(t, b) // the one probe
	rec := serve(Middleware(b)(http.NotFoundHandler()))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "1", rec.Header().Get("Retry-After"))
	release <- nil
	require.NoError(t, recv(t, res))
}

func TestWriteRefusal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		retryAfter string // "" : not a refusal, nothing written
	}{
		{"nil", nil, ""},
		{"other error", errBoom, ""},
		{"canceled", context.Canceled, ""},
		{"bare ErrOpen", ErrOpen, "1"},
		{"wrapped too many calls", fmt.Errorf("quote: %w", ErrTooManyCalls), "1"},
		{"open period over", openErrorLeft(0), "1"},
		{"a nanosecond left", openErrorLeft(time.Nanosecond), "1"},
		{"one second and a bit", openErrorLeft(time.Second + time.Millisecond), "2"},
		{"thirty seconds", openErrorLeft(30 * time.Second), "30"},
		{"wrapped", fmt.Errorf("quote: %w", openErrorLeft(2500*time.Millisecond)), "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			wrote := WriteRefusal(rec, tc.err)
			require.Equal(t, tc.retryAfter != "", wrote)
			require.Equal(t, tc.retryAfter, rec.Header().Get("Retry-After"))
			if wrote {
				require.Equal(t, http.StatusServiceUnavailable, rec.Code)
			} else {
				require.Zero(t, rec.Body.Len())
				require.False(t, errors.Is(tc.err, ErrOpen))
			}
		})
	}
}

// openErrorLeft is an *OpenError with d left of its open period.
func openErrorLeft(d time.Duration) *OpenError {
	clk := newFakeClock()
	return &OpenError{Name: "dep", Until: clk.Now().Add(d), now: clk.Now}
}
