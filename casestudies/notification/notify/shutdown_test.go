package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/internal/redistest"
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

// On Redis the delivery that finishes during Shutdown is acked (by the
// worker's last Next, made although taking work has stopped), not
// released for another instance to send again.
func TestShutdownAcksTheDeliveryInFlightOnRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		send := newBlockingSender()
		h := newHarness(t, onRedis(tg.Client, tg.Prefix), func(c *Config) { c.Senders["push"] = send })
		id := h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
		<-send.entered

		stopped := make(chan error, 1)
		go func() { stopped <- h.svc.Shutdown(context.Background()) }()
		close(send.release)
		select {
		case err := <-stopped:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Shutdown never returned")
		}

		next := newHarness(t, onRedis(tg.Client, tg.Prefix))
		ready, scheduled, leased, err := next.svc.queue.Len(context.Background())
		require.NoError(t, err)
		assert.Zero(t, ready+scheduled+leased, "the delivered job is still queued")
		v := next.view(id)
		assert.Equal(t, Sent, v.Channels["push"].Status)
		assert.Equal(t, 1, v.Channels["push"].Attempts)
	})
}

// lockedLog is a log sink tests can read while the service writes it.
type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// An ack that fails (Redis away once the send is done) is made again, by
// the worker's next Next, when Redis returns: the job is removed, never
// left leased to be reclaimed and sent a second time.
func TestFailedAckIsMadeAgainOnRedis(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		send := newBlockingSender()
		logs := &lockedLog{}
		c, faults := tg.NewClient()
		h := newHarness(t, onRedis(c, tg.Prefix), func(c *Config) {
			c.Senders["push"] = send
			c.Workers = 1
			c.RedisTimeout = time.Second
			c.Logger = slog.New(slog.NewJSONHandler(logs, nil))
		})
		h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
		<-send.entered
		faults.Cut()
		close(send.release)
		eventually(t, func() bool { return logs.contains(`"pending_ack":true`) }, "the ack never failed")
		faults.Heal()

		eventually(t, func() bool {
			ready, scheduled, leased, err := h.svc.queue.Len(context.Background())
			return err == nil && ready+scheduled+leased == 0
		}, "the delivered job was never acked")
		assert.Empty(t, send.entered, "sent a second time")
	})
}
