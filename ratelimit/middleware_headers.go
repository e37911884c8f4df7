package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// The header fields' keys in canonical form (http.CanonicalHeaderKey), so
// that they go into the header map directly, with no canonicalization per
// response.
const (
	fieldPolicy          = "Ratelimit-Policy"
	fieldRateLimit       = "Ratelimit"
	fieldLegacyLimit     = "X-Ratelimit-Limit"
	fieldLegacyRemaining = "X-Ratelimit-Remaining"
	fieldLegacyReset     = "X-Ratelimit-Reset"
	fieldRetryAfter      = "Retry-After"
)

// writeFields sets the header fields of "RateLimit header fields for
// HTTP", draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026, the latest
// draft; sections 3 and 4), with m.policy the policy name quoted by
// sfString, the legacy X-RateLimit-* fields with WithLegacyHeaders, and
// Retry-After for a denial.
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
//
// Cost: these fields were most of an in-process request's time. The
// policy member is made once per limit, and every other value of a
// response is cut from one buffer, in one allocation that also holds the
// header map's value slices.
func (m *middleware) writeFields(h http.Header, d Decision) {
	p := m.policyFor(d.Limit)
	f := new(fieldBlock)
	buf := f.buf[:0]
	buf = append(buf, m.policy...)
	buf = append(buf, ";r="...)
	remainingAt := len(buf)
	buf = strconv.AppendInt(buf, int64(max(d.Remaining, 0)), 10)
	remainingEnd := len(buf)
	buf = append(buf, ";t="...)
	tAt := len(buf)
	buf = strconv.AppendInt(buf, resetSeconds(d), 10)
	// buf is not written again: the strings below share its bytes.
	s := unsafe.String(unsafe.SliceData(buf), len(buf))
	t := s[tAt:]

	if p.policy != "" {
		f.vals[0] = p.policy
		addField(h, fieldPolicy, f.vals[0:1:1])
	}
	f.vals[1] = s
	addField(h, fieldRateLimit, f.vals[1:2:2])
	if m.legacy {
		f.vals[2], f.vals[3], f.vals[4] = p.rate, s[remainingAt:remainingEnd], t
		h[fieldLegacyLimit] = f.vals[2:3:3]
		h[fieldLegacyRemaining] = f.vals[3:4:4]
		h[fieldLegacyReset] = f.vals[4:5:5]
	}
	if !d.Allowed {
		f.vals[5] = t // when denied, t is the Retry-After value
		h[fieldRetryAfter] = f.vals[5:6:6]
	}
}

// fieldBlock is one response's header values: the value slices the
// header map holds, and the bytes of the values made for this response.
type fieldBlock struct {
	vals [6]string
	buf  [96]byte
}

// addField adds v (one value, capacity one, so that an append by anyone
// else copies it) to h's key, as Header.Add does for a canonical key.
func addField(h http.Header, key string, v []string) {
	if old := h[key]; len(old) > 0 {
		h[key] = append(old, v[0])
		return
	}
	h[key] = v
}

// policyFields are the values that depend on the limit alone, made once
// per limit (a middleware's limiter answers with one limit, or a few).
type policyFields struct {
	limit  Limit
	policy string // the RateLimit-Policy member; "" for no limit
	rate   string // X-RateLimit-Limit
}

// policyFor returns l's policyFields, made anew only when l is not the
// limit of the last decision.
func (m *middleware) policyFor(l Limit) *policyFields {
	if p := m.policies.Load(); p != nil && p.limit == l {
		return p
	}
	p := &policyFields{limit: l, rate: strconv.Itoa(l.Rate)}
	if l.Rate > 0 && l.Period > 0 {
		p.policy = m.policy + ";q=" + p.rate
		if l.Period%time.Second == 0 {
			p.policy += ";w=" + strconv.FormatInt(int64(l.Period/time.Second), 10)
		}
	}
	m.policies.Store(p)
	return p
}

// resetSeconds is t: for a denial the Retry-After value, RetryAfter in
// whole seconds rounded up, and at least 1 so that a client never retries
// in the same instant it was refused; otherwise ResetAfter rounded up.
func resetSeconds(d Decision) int64 {
	if !d.Allowed {
		return max(ceilSeconds(d.RetryAfter), 1)
	}
	return ceilSeconds(d.ResetAfter)
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
