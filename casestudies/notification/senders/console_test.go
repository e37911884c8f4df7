package senders

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsoleInjectsFailures(t *testing.T) {
	var out bytes.Buffer
	c := NewConsole("sms", &out)
	ctx := context.Background()
	m := Message{ID: "n1.sms", To: "u1", Priority: "normal", Subject: "hi", Attempt: 1}

	require.NoError(t, c.Send(ctx, m))
	assert.Equal(t, "[sms] n1.sms to u1 (normal, attempt 1): hi\n", out.String())

	c.FailNext(2)
	for range 2 {
		err := c.Send(ctx, m)
		assert.ErrorIs(t, err, ErrInjected)
		assert.False(t, IsPermanent(err))
	}
	require.NoError(t, c.Send(ctx, m), "only the next two failed")

	c.SetDown(true)
	for range 3 {
		assert.ErrorIs(t, c.Send(ctx, m), ErrInjected)
	}
	c.SetDown(false)
	require.NoError(t, c.Send(ctx, m))

	c.SetPermanent(true)
	assert.True(t, IsPermanent(c.Send(ctx, m)))
	c.SetPermanent(false)

	assert.Equal(t, int64(3), c.Sent())
	assert.Equal(t, int64(6), c.Failed())
}

func TestConsoleObserves(t *testing.T) {
	c := NewConsole("push", nil)
	var seen []error
	c.Observe(func(_ Message, err error) { seen = append(seen, err) })
	c.FailNext(1)
	_ = c.Send(context.Background(), Message{})
	_ = c.Send(context.Background(), Message{})
	require.Len(t, seen, 2)
	assert.Error(t, seen[0])
	assert.NoError(t, seen[1])
}

func TestConsoleLatencyHonoursContext(t *testing.T) {
	c := NewConsole("email", nil)
	c.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := c.Send(ctx, Message{})
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	assert.Equal(t, int64(1), c.Failed())
}
