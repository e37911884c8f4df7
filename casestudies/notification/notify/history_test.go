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
// HistoryLimit, and a View handed out never changes afterwards.
func TestProjectionBoundsHistoryAndViewsStayAsHandedOut(t *testing.T) {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	views, err := cqrs.NewRepository(store, projector{historyLimit: 3}.evolve, cqrs.WithStreamPrefix(streamPrefix))
	require.NoError(t, err)
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	appendEvent := func(e cqrs.Event) {
		_, err := store.Append(ctx, streamID("n1"), cqrs.AnyVersion, e)
		require.NoError(t, err)
	}
	_, version, err := views.Load(ctx, "n1")
	require.NoError(t, err)
	require.Zero(t, version, "no history, no view")

	appendEvent(newAccepted(acceptedData{ID: "n1", UserID: "ann", Channels: []string{"email", "sms"}, Priority: "normal", At: at}, Queued))
	before, _, err := views.Load(ctx, "n1")
	require.NoError(t, err)

	for i := 1; i <= 4; i++ {
		appendEvent(newStatusEvent(statusData{Channel: "email", Status: Deferred, At: at.Add(time.Duration(i) * time.Second), Reason: "rate limit"}))
	}
	appendEvent(newStatusEvent(statusData{Channel: "email", Status: Sent, Attempt: 1, At: at.Add(time.Minute)}))

	v, version, err := views.Load(ctx, "n1")
	require.NoError(t, err)
	assert.EqualValues(t, 6, version)
	email := v.Channels["email"]
	assert.Equal(t, []Status{Queued, Deferred, Sent}, statuses(email), "the first and the latest within the limit")
	assert.Equal(t, at.Add(4*time.Second), email.History[1].At)
	assert.Equal(t, 1, email.Attempts)
	assert.Equal(t, Sent, email.Status)
	assert.Empty(t, email.Reason, "the reason is the latest status's")
	assert.Equal(t, []Status{Queued}, statuses(v.Channels["sms"]))

	assert.Equal(t, Queued, before.Channels["email"].Status, "a View handed out earlier changed")
	assert.Equal(t, []Status{Queued}, statuses(before.Channels["email"]))
}

// A status event whose acceptance is missing shows nothing rather than a
// View without its notification's fields.
func TestProjectionIgnoresAStatusWithoutItsAcceptance(t *testing.T) {
	v, err := projector{historyLimit: 3}.evolve(View{}, newStatusEvent(statusData{Channel: "sms", Status: Sent, At: time.Now()}))
	require.NoError(t, err)
	assert.Nil(t, v.Channels)
}
