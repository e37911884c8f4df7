package notify

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func statusSamples() []statusData {
	at := time.Date(2026, 12, 3, 18, 4, 5, 123456789, time.UTC)
	next := at.Add(4 * time.Second).In(time.FixedZone("x", 3600))
	return []statusData{
		{Channel: "email", Status: Sent, Attempt: 1, At: at},
		{Channel: "sms", Status: Queued, At: at},
		{Channel: "push", Status: Retrying, Attempt: 3, At: at, NextAt: &next, Reason: "smtp: 421 try later"},
		{Channel: "push", Status: Failed, Attempt: 5, At: at,
			Reason: "quote \" backslash \\ newline \n tab \t bs \b ff \f nul \x00 bad utf8 \xff ok é ✓"},
	}
}

// The hand-written JSON is what encoding/json reads back exactly, and what
// the fast path reads too.
func TestStatusCodecRoundTrips(t *testing.T) {
	for _, in := range statusSamples() {
		e := newStatusEvent(in)
		require.True(t, json.Valid(e.Data), "%s", e.Data)
		var viaJSON statusData
		require.NoError(t, json.Unmarshal(e.Data, &viaJSON))
		out, err := decodeStatus(e.Data)
		require.NoError(t, err)
		for _, got := range []statusData{viaJSON, out} {
			assert.Equal(t, in.Channel, got.Channel)
			assert.Equal(t, in.Status, got.Status)
			assert.Equal(t, in.Attempt, got.Attempt)
			assert.True(t, in.At.Equal(got.At))
			if in.NextAt == nil {
				assert.Nil(t, got.NextAt)
			} else {
				require.NotNil(t, got.NextAt)
				assert.True(t, in.NextAt.Equal(*got.NextAt))
			}
		}
		// Invalid UTF-8 becomes U+FFFD, as with json.Marshal; the rest
		// comes back as it was.
		assert.Equal(t, viaJSON.Reason, out.Reason)
		if utf8.ValidString(in.Reason) {
			assert.Equal(t, in.Reason, out.Reason)
		} else {
			assert.Contains(t, out.Reason, string(utf8.RuneError))
		}
	}
}

// Whatever encoding/json wrote (earlier versions did) still reads.
func TestStatusCodecReadsEncodingJSON(t *testing.T) {
	for _, in := range statusSamples() {
		raw, err := json.Marshal(in)
		require.NoError(t, err)
		out, err := decodeStatus(raw)
		require.NoError(t, err)
		var want statusData
		require.NoError(t, json.Unmarshal(raw, &want))
		assert.Equal(t, want, out)
	}
	for _, raw := range []string{`{ "channel" : "sms", "status":"sent" }`, `{"channel":"sms","extra":1,"status":"sent"}`} {
		out, err := decodeStatus([]byte(raw))
		require.NoError(t, err, raw)
		assert.Equal(t, statusData{Channel: "sms", Status: Sent}, out)
	}
	_, err := decodeStatus([]byte(`{"channel":`))
	assert.Error(t, err)
}

func FuzzStatusDecodeAgreesWithJSON(f *testing.F) {
	for _, s := range statusSamples() {
		f.Add([]byte(newStatusEvent(s).Data))
	}
	f.Add([]byte(`{"attempt":1,}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeStatusFast(data)
		if !ok {
			return
		}
		var want statusData
		require.NoError(t, json.Unmarshal(data, &want), "fast path took invalid JSON %q", data)
		assert.Equal(t, want.Channel, fast.Channel)
		assert.Equal(t, want.Status, fast.Status)
		assert.Equal(t, want.Attempt, fast.Attempt)
		assert.Equal(t, want.Reason, fast.Reason)
		assert.True(t, want.At.Equal(fast.At))
		assertSameTime(t, want.NextAt, fast.NextAt)
	})
}

func assertSameTime(t *testing.T, want, got *time.Time) {
	t.Helper()
	if want == nil {
		assert.Nil(t, got)
		return
	}
	require.NotNil(t, got)
	assert.True(t, want.Equal(*got), "want %v, got %v", want, got)
}

// Whatever strings a status carries, the hand-written encoder writes valid
// JSON that both decoders read back as encoding/json's own encoding of
// the same status reads (invalid UTF-8 becomes U+FFFD either way).
func FuzzStatusEncodeAgreesWithJSON(f *testing.F) {
	for _, s := range statusSamples() {
		f.Add(s.Channel, string(s.Status), s.Attempt, s.Reason, s.At.UnixNano())
	}
	f.Fuzz(func(t *testing.T, channel, status string, attempt int, reason string, atNanos int64) {
		at := time.Unix(0, atNanos).UTC()
		in := statusData{Channel: channel, Status: Status(status), Attempt: attempt, At: at, NextAt: &at, Reason: reason}
		e := newStatusEvent(in)
		require.True(t, json.Valid(e.Data), "%q", e.Data)
		raw, err := json.Marshal(in)
		require.NoError(t, err)
		var want statusData
		require.NoError(t, json.Unmarshal(raw, &want))
		got, err := decodeStatus(e.Data)
		require.NoError(t, err)
		assert.Equal(t, want.Channel, got.Channel)
		assert.Equal(t, want.Status, got.Status)
		assert.Equal(t, want.Attempt, got.Attempt)
		assert.Equal(t, want.Reason, got.Reason)
		assert.True(t, want.At.Equal(got.At))
		assertSameTime(t, want.NextAt, got.NextAt)
	})
}

func acceptedSamples() []acceptedData {
	at := time.Date(2026, 12, 3, 18, 4, 5, 123456789, time.UTC)
	later := at.Add(time.Hour).In(time.FixedZone("x", -5*3600))
	return []acceptedData{
		{ID: "n0123456789abcdef0123", UserID: "ann", Channels: []string{"email", "sms", "push"}, Priority: "normal", At: at, First: Queued},
		{ID: "n1", UserID: "bob@example.org", Channels: []string{"push"}, Priority: "critical",
			Subject: "Größe \"x\" \n\x01", SendAt: &later, At: at, First: Scheduled},
		{ID: "n2", UserID: "c", Channels: []string{"sms"}, Priority: "low", At: at}, // no First: an older acceptance
	}
}

func TestAcceptedCodecRoundTrips(t *testing.T) {
	for _, in := range acceptedSamples() {
		e := newAcceptedEvent(in)
		require.True(t, json.Valid(e.Data), "%s", e.Data)
		var viaJSON acceptedData
		require.NoError(t, json.Unmarshal(e.Data, &viaJSON))
		out, err := decodeAccepted(e.Data)
		require.NoError(t, err)
		for _, got := range []acceptedData{viaJSON, out} {
			assert.True(t, in.At.Equal(got.At))
			if in.SendAt == nil {
				assert.Nil(t, got.SendAt)
			} else {
				require.NotNil(t, got.SendAt)
				assert.True(t, in.SendAt.Equal(*got.SendAt))
			}
			got.At, got.SendAt = in.At, in.SendAt
			assert.Equal(t, in, got)
		}
		// What encoding/json wrote reads the same.
		raw, err := json.Marshal(in)
		require.NoError(t, err)
		old, err := decodeAccepted(raw)
		require.NoError(t, err)
		assert.Equal(t, viaJSON, old)
	}
}

func FuzzAcceptedDecodeAgreesWithJSON(f *testing.F) {
	for _, a := range acceptedSamples() {
		f.Add([]byte(newAcceptedEvent(a).Data))
	}
	f.Add([]byte(`{"channels":["a",]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeAccepted(data)
		var want acceptedData
		wantErr := json.Unmarshal(data, &want)
		if wantErr != nil {
			require.Error(t, err, "took invalid JSON %q", data)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, want.ID, got.ID)
		assert.Equal(t, want.UserID, got.UserID)
		assert.Equal(t, want.Priority, got.Priority)
		assert.Equal(t, want.Subject, got.Subject)
		assert.Equal(t, want.First, got.First)
		assert.Equal(t, len(want.Channels), len(got.Channels))
		for i := range min(len(want.Channels), len(got.Channels)) {
			assert.Equal(t, want.Channels[i], got.Channels[i])
		}
		assert.True(t, want.At.Equal(got.At))
		assertSameTime(t, want.SendAt, got.SendAt)
	})
}

// The projection decodes every event: a status event of the usual shape
// costs at most one allocation (its NextAt), since statuses, priorities and
// the usual channel names are interned and times are parsed from the bytes.
func TestStatusDecodeAllocatesLittle(t *testing.T) {
	data := newStatusEvent(statusData{Channel: "email", Status: Sent, Attempt: 1, At: time.Now()}).Data
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodeStatus(data); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 0.0, "allocations per decode")
	s, err := decodeStatus(data)
	require.NoError(t, err)
	assert.Equal(t, "email", s.Channel)
	assert.Equal(t, Sent, s.Status)
	// A channel not among the usual names still reads (as a copy).
	other, err := decodeStatus(newStatusEvent(statusData{Channel: "pager", Status: Sent, At: time.Now()}).Data)
	require.NoError(t, err)
	assert.Equal(t, "pager", other.Channel)
}
