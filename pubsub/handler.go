package pubsub

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
)

// ErrPanic is wrapped by the error of a handler that panicked.
var ErrPanic = errors.New("pubsub: handler panicked")

// ErrHandBack, wrapped by a handler's error while its subscription is
// stopping (see Stopping), hands the message back instead of failing it:
// it is not retried, dead-lettered or counted as failed, and it is
// released at once, so the shutdown does not wait for it. On Redis it
// stays pending and becomes claimable by another consumer of the group
// immediately (not after the visibility timeout), and the hand-back does
// not count towards MaxAttempts; in memory it goes back to its group's
// queue when another member remains (delivered from attempt 1 again), and
// is otherwise dropped (Stats.Abandoned). Returned while the
// subscription is not stopping, it is an ordinary error. A handler whose
// context was cancelled (the drain ran out of time) hands its message
// back whatever it returns; on Redis that delivery counts.
var ErrHandBack = errors.New("pubsub: message handed back")

// PanicError is a recovered handler panic: the error a panicking handler
// counts as (retried, then dead-lettered with it as the reason).
type PanicError struct {
	Value any    // what the handler panicked with
	Stack []byte // the handler goroutine's stack at the panic
}

// Error returns "pubsub: handler panicked: " and the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("%v: %v", ErrPanic, e.Value) }

// Unwrap returns ErrPanic and, when the panic value is an error, that
// error too.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}

type stoppingKey struct{}

// Stopping returns a channel that is closed when the subscription whose
// handler was given ctx begins to stop: Unsubscribe, Close, Shutdown, or
// the end of the context given to Subscribe. The bus then waits for the
// handler (up to the drain timeout, or Shutdown's deadline) before
// cancelling ctx; a handler that cannot finish soon may return an error
// wrapping ErrHandBack instead, so that its message is released at once
// and the shutdown does not wait. For a ctx that is not a handler's, it
// returns nil (a channel that is never closed).
func Stopping(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(stoppingKey{}).(<-chan struct{})
	return ch
}

// handlerContext is the context of a subscription's handlers: cancelled
// by cancel when the drain runs out of time, and carrying stopping for
// Stopping.
func handlerContext(stopping <-chan struct{}) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	return context.WithValue(ctx, stoppingKey{}, stopping), cancel
}

// call runs h, turning a panic into a *PanicError.
func call(ctx context.Context, h Handler, m *Message, c *counters) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.panics.Add(1)
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return h(ctx, m)
}

// deadMetadata is m's metadata plus the dead-letter keys.
func deadMetadata(m *Message, group string, attempts int, err error) map[string]string {
	md := make(map[string]string, len(m.Metadata)+5)
	for k, v := range m.Metadata {
		md[k] = v
	}
	md[MetaDeadReason] = err.Error()
	md[MetaDeadTopic] = m.Topic
	md[MetaDeadID] = m.ID
	md[MetaDeadAttempts] = strconv.Itoa(attempts)
	md[MetaDeadGroup] = group
	return md
}
