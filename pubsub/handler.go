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

// PanicError is a recovered handler panic; errors.Is(err, ErrPanic) holds.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("pubsub: handler panicked: %v", e.Value) }

// Unwrap returns ErrPanic.
func (e *PanicError) Unwrap() error { return ErrPanic }

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
