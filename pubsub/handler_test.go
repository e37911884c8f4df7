package pubsub

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPanicErrorUnwrapsThePanicValue(t *testing.T) {
	err := call(context.Background(), func(context.Context, *Message) error { panic(io.ErrUnexpectedEOF) }, &Message{}, &counters{})
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	require.ErrorIs(t, err, ErrPanic)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "an error panic value is in the chain")
	require.Contains(t, string(pe.Stack), "handler_test.go")
	err = call(context.Background(), func(context.Context, *Message) error { panic("text") }, &Message{}, &counters{})
	require.ErrorIs(t, err, ErrPanic)
	require.Equal(t, "pubsub: handler panicked: text", err.Error())
	require.False(t, errors.Is(err, io.ErrUnexpectedEOF))
}

func TestStoppingOutsideAHandlerIsNil(t *testing.T) {
	require.Nil(t, Stopping(context.Background()))
}

// ErrHandBack from a subscription that is not stopping is an ordinary
// failure: retried, then dead-lettered.
func TestHandBackWhileRunningIsAFailure(t *testing.T) {
	b := NewMemory(WithBackoff(0, 0), WithMaxAttempts(2))
	defer b.Close()
	dead := newCollector()
	mustSub(t, b, DefaultDeadTopic, dead.handler("d"))
	mustSub(t, b, "hb", func(context.Context, *Message) error { return ErrHandBack })
	mustPub(t, b, "hb", "x")
	dead.wait(t, 1)
	st := b.Stats()
	require.Equal(t, uint64(2), st.Failed)
	require.Zero(t, st.HandedBack)
}
