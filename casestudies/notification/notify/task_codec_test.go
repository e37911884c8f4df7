package notify

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTaskCodecRoundTrips(t *testing.T) {
	for _, in := range []task{
		{NotificationID: "n0123456789abcdef0123", UserID: "ann", Channel: "email", Priority: "critical",
			Subject: "héllo \"you\"", Body: "line 1\nline 2\x00 and more"},
		{NotificationID: "n1", UserID: "u", Channel: "sms", Priority: "low", Body: string(make([]byte, 70<<10))},
		{},
	} {
		out, err := decodeTask(in.encode())
		require.NoError(t, err)
		assert.Equal(t, in, out)
	}
}

func TestTaskCodecReadsJSONOfEarlierVersions(t *testing.T) {
	in := task{NotificationID: "n1", UserID: "ann", Channel: "push", Priority: "normal", Body: "b"}
	raw, err := json.Marshal(in)
	require.NoError(t, err)
	out, err := decodeTask(raw)
	require.NoError(t, err)
	assert.Equal(t, in, out)
}

func TestTaskCodecRejectsGarbage(t *testing.T) {
	good := task{NotificationID: "n1", UserID: "ann", Channel: "push", Body: "b"}.encode()
	for name, p := range map[string][]byte{
		"empty":          nil,
		"unknown format": {9, 1, 'a'},
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 'x'),
		"huge length":    {taskFormat, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"bad json":       []byte("{nope"),
	} {
		_, err := decodeTask(p)
		assert.Error(t, err, name)
	}
}

// Every delivery decodes its task: one allocation holds all its fields.
func TestTaskDecodeAllocatesOnce(t *testing.T) {
	p := task{NotificationID: "n1", UserID: "ann", Channel: "email", Priority: "high", Subject: "s", Body: "b"}.encode()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodeTask(p); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "allocations per decode")
}
