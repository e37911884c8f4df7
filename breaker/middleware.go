package breaker

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Middleware returns HTTP middleware that runs each request's handler
// through b, the server-side counterpart of RoundTripper: a handler that
// answers 5xx (or panics) counts as a failure, any other answer as a
// success, and a request b refuses never reaches the handler: it gets 503
// Service Unavailable with Retry-After (see WriteRefusal). Use it to shed
// load from an endpoint whose dependency keeps failing, so that clients
// back off instead of queueing behind timeouts.
//
//	mux.Handle("/quote", breaker.Middleware(b)(quoteHandler))
func Middleware(b *Breaker) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &statusRecorder{ResponseWriter: w}
			err := b.Execute(r.Context(), func(context.Context) error {
				rec.ran = true
				next.ServeHTTP(rec, r)
				if code := rec.status(); code >= 500 {
					return &StatusError{StatusCode: code}
				}
				return nil
			})
			if !rec.ran {
				WriteRefusal(w, err)
			}
		})
	}
}

// WriteRefusal answers a request with 503 Service Unavailable when err is a
// breaker's refusal (errors.Is ErrOpen or ErrTooManyCalls) and reports
// whether it did; for any other error it writes nothing and returns false.
// Retry-After is the *OpenError's RetryAfter in whole seconds rounded up,
// so a client that waits that long finds the circuit probing, and at
// least 1 (a 0 would invite an immediate retry); a refusal while half-open
// says 1, since the probes' verdict is due about then.
//
//	if err := b.Execute(ctx, call); breaker.WriteRefusal(w, err) {
//		return
//	}
func WriteRefusal(w http.ResponseWriter, err error) bool {
	if !errors.Is(err, ErrOpen) && !errors.Is(err, ErrTooManyCalls) {
		return false
	}
	secs := int64(1)
	var oe *OpenError
	if errors.As(err, &oe) {
		secs = max(secs, int64((oe.RetryAfter()+time.Second-1)/time.Second))
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
	return true
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	code int
	ran  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 && code >= 200 { // 1xx are interim: the final status follows
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

// Flush passes a streaming handler's flushes on.
func (r *statusRecorder) Flush() {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// status is the answer's status: 200 if the handler wrote nothing.
func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
