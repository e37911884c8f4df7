package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// writeRateLimitFields sets the header fields of "RateLimit header fields
// for HTTP", draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026, the
// latest draft; sections 3 and 4), with name the policy name quoted by
// sfString.
// https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/11/
//
//	RateLimit-Policy: "default";q=10;w=1    (quota q per window of w seconds)
//	RateLimit: "default";r=7;t=1            (r left, for the next t seconds)
//
// Both are Structured Fields Lists whose members are the policy name as a
// String with Integer parameters. The draft has no sub-second windows, so
// w is left out (it is optional) when Period is not whole seconds, rather
// than rounded into a different rate. q is Rate, even where Burst lets a
// bucket hold more. t is when the client can expect more than r: when
// denied the Retry-After value, otherwise until the key is back to full
// (ResetAfter), in seconds rounded up. Members are added, not set, so
// stacked middlewares with distinct PolicyNames list every policy.
func writeRateLimitFields(h http.Header, name string, d Decision, legacy bool) {
	t := resetSeconds(d)
	if d.Limit.Rate > 0 && d.Limit.Period > 0 {
		p := name + ";q=" + strconv.Itoa(d.Limit.Rate)
		if d.Limit.Period%time.Second == 0 {
			p += ";w=" + strconv.FormatInt(int64(d.Limit.Period/time.Second), 10)
		}
		h.Add("RateLimit-Policy", p)
	}
	h.Add("RateLimit", name+";r="+strconv.Itoa(max(d.Remaining, 0))+";t="+t)
	if legacy {
		h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit.Rate))
		h.Set("X-RateLimit-Remaining", strconv.Itoa(max(d.Remaining, 0)))
		h.Set("X-RateLimit-Reset", t)
	}
}

// retryAfterSeconds is Retry-After for a denial: RetryAfter in whole
// seconds rounded up, so waiting that long is enough, and at least 1 so
// that a client never retries in the same instant it was refused.
func retryAfterSeconds(d Decision) string {
	return strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10)
}

func resetSeconds(d Decision) string {
	if !d.Allowed {
		return retryAfterSeconds(d)
	}
	return strconv.FormatInt(ceilSeconds(d.ResetAfter), 10)
}

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// sfString quotes s as a Structured Fields String (RFC 8941 section 3.3.3);
// WithPolicyName has already checked that s is printable ASCII.
func sfString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
