package cqrs

import (
	"context"
	"fmt"
	"reflect"
	"sync"
)

// QueryBus routes queries to their handlers by the query's type, each
// returning a result of its own type: the read side's front door. Query
// handlers read read models only — never the event store or aggregates —
// so reads scale apart from writes and may lag them a little. Safe for
// concurrent use.
type QueryBus struct {
	mu       sync.RWMutex
	handlers map[reflect.Type]queryHandler
}

type queryHandler struct {
	result reflect.Type
	fn     func(context.Context, any) (any, error)
}

// NewQueryBus returns a bus with no handlers.
func NewQueryBus() *QueryBus {
	return &QueryBus{handlers: make(map[reflect.Type]queryHandler)}
}

// HandleQuery registers h as the handler of queries of type Q, answering
// with an R. A second handler for Q is an error wrapping
// ErrDuplicateHandler.
func HandleQuery[Q, R any](b *QueryBus, h func(ctx context.Context, q Q) (R, error)) error {
	t := reflect.TypeFor[Q]()
	if h == nil {
		return fmt.Errorf("%w: nil handler for %v", ErrInvalidArgument, t)
	}
	if t.Kind() == reflect.Interface {
		return fmt.Errorf("%w: handler for interface type %v: register concrete query types", ErrInvalidArgument, t)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.handlers[t]; dup {
		return fmt.Errorf("%w: query %v", ErrDuplicateHandler, t)
	}
	b.handlers[t] = queryHandler{result: reflect.TypeFor[R](), fn: func(ctx context.Context, q any) (any, error) {
		return h(ctx, q.(Q))
	}}
	return nil
}

// Ask runs the handler of q's type and returns its result as an R:
//
//	bal, err := cqrs.Ask[int](ctx, queries, BalanceOf{Account: "acc-1"})
//
// A query type without a handler, or whose handler answers with another
// type than R, is an error wrapping ErrNoHandler.
func Ask[R, Q any](ctx context.Context, b *QueryBus, q Q) (R, error) {
	var zero R
	t := reflect.TypeOf(any(q)) // the dynamic type, for a Q that is an interface
	if t == nil {
		return zero, fmt.Errorf("%w: nil query", ErrNoHandler)
	}
	b.mu.RLock()
	h, ok := b.handlers[t]
	b.mu.RUnlock()
	if !ok {
		return zero, fmt.Errorf("%w: query %v", ErrNoHandler, t)
	}
	if rt := reflect.TypeFor[R](); h.result != rt {
		return zero, fmt.Errorf("%w: query %v answers with %v, asked for %v", ErrNoHandler, t, h.result, rt)
	}
	res, err := h.fn(ctx, any(q))
	if err != nil {
		return zero, err
	}
	r, _ := res.(R)
	return r, nil
}
