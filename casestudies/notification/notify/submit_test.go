package notify

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Submit takes the POST's path without HTTP: same checks, same
// idempotency, same delivery.
func TestSubmitInProcess(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n := Notification{UserID: "ann", Channels: []string{"email", "push"}, Priority: "high", Body: "b", IdempotencyKey: "k"}
	first, err := h.svc.Submit(ctx, n)
	require.NoError(t, err)
	assert.False(t, first.Duplicate)
	again, err := h.svc.Submit(ctx, n)
	require.NoError(t, err)
	assert.Equal(t, Receipt{ID: first.ID, Duplicate: true}, again)
	h.waitStatus(first.ID, "email", Sent)
	h.waitStatus(first.ID, "push", Sent)

	later := h.clock.Now().Add(time.Hour)
	sched, err := h.svc.Submit(ctx, Notification{UserID: "bob", Channels: []string{"sms"}, Body: "b", SendAt: later})
	require.NoError(t, err)
	v := h.waitStatus(sched.ID, "sms", Scheduled)
	assert.True(t, later.Equal(*v.SendAt))

	for field, bad := range map[string]Notification{
		"user_id":     {Channels: []string{"sms"}, Body: "b"},
		"channels[1]": {UserID: "ann", Channels: []string{"sms", "fax"}, Body: "b"},
		"priority":    {UserID: "ann", Channels: []string{"sms"}, Body: "b", Priority: "urgent"},
		"body":        {UserID: "ann", Channels: []string{"sms"}, Body: "  "},
		"send_at":     {UserID: "ann", Channels: []string{"sms"}, Body: "b", SendAt: h.clock.Now().Add(-time.Hour)},
	} {
		_, err := h.svc.Submit(ctx, bad)
		require.Error(t, err, field)
		assert.True(t, errors.Is(err, ErrInvalidNotification), "%s: %v", field, err)
		assert.Contains(t, err.Error(), field+":")
	}
	assert.Equal(t, uint64(2), h.svc.Stats().Accepted)
}
