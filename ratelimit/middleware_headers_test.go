package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The keys set directly in the header map are the canonical forms of the
// draft's field names, so Header.Get finds them.
func TestFieldKeysAreCanonical(t *testing.T) {
	for name, key := range map[string]string{
		"RateLimit-Policy": fieldPolicy, "RateLimit": fieldRateLimit,
		"X-RateLimit-Limit": fieldLegacyLimit, "X-RateLimit-Remaining": fieldLegacyRemaining,
		"X-RateLimit-Reset": fieldLegacyReset, "Retry-After": fieldRetryAfter,
	} {
		assert.Equal(t, http.CanonicalHeaderKey(name), key)
	}
}

// One allocation per response for all the fields, legacy and Retry-After
// included; the values are the ones the old writer made, members are
// added after another middleware's, and a value appended by someone else
// does not reach the next response.
func TestWriteFieldsValuesAndAllocations(t *testing.T) {
	m := &middleware{policy: sfString("api"), legacy: true}
	allowed := Decision{Allowed: true, Limit: Limit{Rate: 100, Period: time.Second, Burst: 100}, Remaining: 57, ResetAfter: 430 * time.Millisecond}
	denied := Decision{Limit: Limit{Rate: 5, Period: 1500 * time.Millisecond, Burst: 5}, RetryAfter: 2100 * time.Millisecond}
	for _, d := range []Decision{allowed, denied} {
		h, want := http.Header{}, http.Header{}
		m.writeFields(h, d)
		writeFieldsBefore(want, m.policy, d, true)
		if !d.Allowed {
			want.Set("Retry-After", "3")
		}
		assert.Equal(t, want, h)
	}

	h := http.Header{"Ratelimit-Policy": {`"other";q=1`}}
	m.writeFields(h, allowed)
	assert.Equal(t, []string{`"other";q=1`, `"api";q=100;w=1`}, h.Values("RateLimit-Policy"))
	h = http.Header{}
	m.writeFields(h, allowed)
	h.Add("RateLimit", "appended")
	again := http.Header{}
	m.writeFields(again, allowed)
	assert.Equal(t, []string{`"api";r=57;t=1`}, again.Values("RateLimit"))

	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	for _, d := range []Decision{allowed, denied} {
		h := http.Header{}
		allocs := testing.AllocsPerRun(100, func() {
			clear(h)
			m.writeFields(h, d)
		})
		require.LessOrEqual(t, allocs, 1.0)
	}
}
