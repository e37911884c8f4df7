package notify

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// The projection keeps the first status and the latest ones within
// HistoryLimit, and never changes a View it handed out.
func TestProjectionBoundsHistoryAndCopiesOnWrite(t *testing.T) {
	ctx := context.Background()
	model, err := cqrs.NewMemoryReadModel("views", projector{historyLimit: 3}.apply)
	require.NoError(t, err)
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	pos := int64(0)
	apply := func(e cqrs.Event) {
		pos++
		e.StreamID, e.Position, e.Version = streamID("n1"), pos, pos
		require.NoError(t, model.Apply(ctx, []cqrs.Event{e}))
	}
	apply(newAccepted(acceptedData{ID: "n1", UserID: "ann", Channels: []string{"email", "sms"}, Priority: "normal", At: at}, Queued))
	before, ok, err := model.Get(ctx, "n1")
	require.NoError(t, err)
	require.True(t, ok)

	for i := 1; i <= 4; i++ {
		apply(newStatusEvent(statusData{Channel: "email", Status: Deferred, At: at.Add(time.Duration(i) * time.Second), Reason: "rate limit"}))
	}
	apply(newStatusEvent(statusData{Channel: "email", Status: Sent, Attempt: 1, At: at.Add(time.Minute)}))

	v, ok, err := model.Get(ctx, "n1")
	require.NoError(t, err)
	require.True(t, ok)
	email := v.Channels["email"]
	assert.Equal(t, []Status{Queued, Deferred, Sent}, statuses(email), "the first and the latest within the limit")
	assert.Equal(t, at.Add(4*time.Second), email.History[1].At)
	assert.Equal(t, 1, email.Attempts)
	assert.Equal(t, []Status{Queued}, statuses(v.Channels["sms"]))

	assert.Equal(t, Queued, before.Channels["email"].Status, "a View handed out earlier changed")
	assert.Equal(t, []Status{Queued}, statuses(before.Channels["email"]))
}
