package cqrs

import (
	"context"
	"fmt"
	"reflect"
	"sync"
)

// CommandBus routes commands to their handlers by the command's type: one
// handler per type, registered with Handle. It is the write side's front
// door: handlers typically run Repository.Execute. Safe for concurrent
// use.
type CommandBus struct {
	mu       sync.RWMutex
	handlers map[reflect.Type]func(context.Context, any) error
}

// NewCommandBus returns a bus with no handlers.
func NewCommandBus() *CommandBus {
	return &CommandBus{handlers: make(map[reflect.Type]func(context.Context, any) error)}
}

// Handle registers h as the handler of commands of type C (a value type
// and a pointer to it are different types). A second handler for C is an
// error wrapping ErrDuplicateHandler.
func Handle[C any](b *CommandBus, h func(ctx context.Context, cmd C) error) error {
	t := reflect.TypeFor[C]()
	if h == nil {
		return fmt.Errorf("%w: nil handler for %v", ErrInvalidArgument, t)
	}
	if t.Kind() == reflect.Interface {
		return fmt.Errorf("%w: handler for interface type %v: register concrete command types", ErrInvalidArgument, t)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.handlers[t]; dup {
		return fmt.Errorf("%w: command %v", ErrDuplicateHandler, t)
	}
	b.handlers[t] = func(ctx context.Context, cmd any) error { return h(ctx, cmd.(C)) }
	return nil
}

// Dispatch runs the handler of cmd's type and returns its error. A command
// type without a handler is an error wrapping ErrNoHandler.
func (b *CommandBus) Dispatch(ctx context.Context, cmd any) error {
	if cmd == nil {
		return fmt.Errorf("%w: nil command", ErrNoHandler)
	}
	t := reflect.TypeOf(cmd)
	b.mu.RLock()
	h := b.handlers[t]
	b.mu.RUnlock()
	if h == nil {
		return fmt.Errorf("%w: command %v", ErrNoHandler, t)
	}
	return h(ctx, cmd)
}
