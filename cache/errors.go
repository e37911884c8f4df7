package cache

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidConfig wraps every configuration error of a constructor.
	ErrInvalidConfig = errors.New("cache: invalid config")
	// ErrInvalidRequest wraps errors for a bad argument to a call, such as a
	// negative TTL.
	ErrInvalidRequest = errors.New("cache: invalid request")
	// ErrNotFound is what a Loader returns (or wraps) when the key does not
	// exist in the source of truth. Aside caches that answer for the
	// negative TTL and returns an error wrapping ErrNotFound, so callers
	// test with errors.Is(err, cache.ErrNotFound).
	ErrNotFound = errors.New("cache: not found")
	// ErrLoaderPanic is wrapped by the error every waiter of a load gets
	// when the loader panicked; see PanicError.
	ErrLoaderPanic = errors.New("cache: loader panicked")
	// ErrClosed is returned by calls on an Aside or Tiered after Close.
	ErrClosed = errors.New("cache: closed")
)

// PanicError is the error a panicking Loader becomes: every caller waiting
// on that load gets it, and the process carries on. errors.Is(err,
// ErrLoaderPanic) is true, and so is errors.Is(err, x) for an error x the
// loader panicked with.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader goroutine's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("%v: %v", ErrLoaderPanic, e.Value) }

// Unwrap returns ErrLoaderPanic and, when the panic value is an error, that
// error too.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrLoaderPanic, err}
	}
	return []error{ErrLoaderPanic}
}
