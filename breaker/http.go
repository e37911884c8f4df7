package breaker

import (
	"context"
	"net/http"
	"strconv"
)

// StatusError is the failure the RoundTripper and Middleware record for a
// 5xx response. Config.IsFailure sees it, so a breaker can, for instance,
// count only 503s (errors.As gives the status). The caller never gets it:
// it gets the response.
type StatusError struct{ StatusCode int }

// Error says which status it was, e.g. "breaker: HTTP 502 Bad Gateway".
func (e *StatusError) Error() string {
	return "breaker: HTTP " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
}

// RoundTripper wraps next (http.DefaultTransport if nil) with b: transport
// errors and 5xx responses count as failures, other responses as
// successes. A 5xx response is still returned to the caller as is, with
// its body unread. A request refused by the breaker fails with its error
// (errors.Is ErrOpen or ErrTooManyCalls) and never reaches next. The
// request's context is the one the breaker sees. The breaker judges the
// round trip up to the response headers; reading the body is not timed.
//
//	client := &http.Client{Transport: breaker.RoundTripper(b, nil)}
func RoundTripper(b *Breaker, next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &roundTripper{b: b, next: next}
}

type roundTripper struct {
	b    *Breaker
	next http.RoundTripper
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	var resp *http.Response
	err := rt.b.Execute(req.Context(), func(context.Context) error {
		var err error
		resp, err = rt.next.RoundTrip(req)
		if err != nil {
			return err
		}
		if resp.StatusCode >= 500 {
			return &StatusError{StatusCode: resp.StatusCode}
		}
		return nil
	})
	if resp != nil {
		return resp, nil // a 5xx too: the caller decides what to do with it
	}
	return nil, err
}
