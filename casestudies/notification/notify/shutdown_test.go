package notify

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
)

// blockingSender holds each send until released, and tells whether the
// send's ctx was cancelled.
type blockingSender struct {
	entered   chan struct{}
	release   chan struct{}
	cancelled atomic.Bool
}

func newBlockingSender() *blockingSender {
	return &blockingSender{entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (b *blockingSender) Send(ctx context.Context, _ senders.Message) error {
	b.entered <- struct{}{}
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		b.cancelled.Store(true)
		return ctx.Err()
	}
}

// Shutdown lets a delivery in flight finish, and records it, before it
// closes the backends.
func TestShutdownLetsDeliveriesInFlightFinish(t *testing.T) {
	send := newBlockingSender()
	h := newHarness(t, func(c *Config) { c.Senders["push"] = send })
	h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
	<-send.entered

	stopped := make(chan error, 1)
	go func() { stopped <- h.svc.Shutdown(context.Background()) }()
	stays(t, func() bool { return len(stopped) == 0 }, "Shutdown returned while a delivery was in flight")
	close(send.release)
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown never returned")
	}
	assert.False(t, send.cancelled.Load(), "the delivery in flight was cancelled")
	assert.Equal(t, uint64(1), h.svc.Stats().Sent, "the finished delivery was recorded")
}

// When Shutdown's ctx ends first, the delivery in flight is cancelled and
// Shutdown returns at once with ctx's error.
func TestShutdownAbandonsDeliveriesAtItsDeadline(t *testing.T) {
	send := newBlockingSender()
	h := newHarness(t, func(c *Config) { c.Senders["push"] = send })
	h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
	<-send.entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := h.svc.Shutdown(ctx)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	eventually(t, send.cancelled.Load, "the abandoned delivery's send was never cancelled")
	assert.Equal(t, uint64(0), h.svc.Stats().Sent)
}
