package cqrs

import (
	"context"
	"errors"
	"testing"
)

type openCmd struct{ ID, Owner string }
type depositCmd struct {
	ID     string
	Amount int
}
type balanceQuery struct{ ID string }

func TestCommandBus(t *testing.T) {
	ctx := context.Background()
	b := NewCommandBus()
	var got []any
	if err := Handle(b, func(_ context.Context, c openCmd) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := Handle(b, func(_ context.Context, c *depositCmd) error { got = append(got, *c); return boom }); err != nil {
		t.Fatal(err)
	}
	if err := Handle(b, func(context.Context, openCmd) error { return nil }); !errors.Is(err, ErrDuplicateHandler) {
		t.Fatalf("second handler: %v", err)
	}
	if err := Handle[openCmd](b, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("nil handler: %v", err)
	}
	if err := Handle(b, func(context.Context, any) error { return nil }); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("handler for an interface: %v", err)
	}
	if err := b.Dispatch(ctx, openCmd{"1", "ann"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Dispatch(ctx, &depositCmd{"1", 5}); !errors.Is(err, boom) {
		t.Fatalf("handler error: %v", err)
	}
	if err := b.Dispatch(ctx, depositCmd{"1", 5}); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("value of a pointer-handled type: %v", err)
	}
	if err := b.Dispatch(ctx, nil); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("nil command: %v", err)
	}
	if len(got) != 2 || got[0] != (openCmd{"1", "ann"}) || got[1] != (depositCmd{"1", 5}) {
		t.Fatalf("handled %v", got)
	}
}

func TestQueryBus(t *testing.T) {
	ctx := context.Background()
	b := NewQueryBus()
	if err := HandleQuery(b, func(_ context.Context, q balanceQuery) (int, error) {
		if q.ID == "" {
			return 0, errors.New("no id")
		}
		return len(q.ID) * 10, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := HandleQuery(b, func(context.Context, balanceQuery) (string, error) { return "", nil }); !errors.Is(err, ErrDuplicateHandler) {
		t.Fatalf("second handler: %v", err)
	}
	if n, err := Ask[int](ctx, b, balanceQuery{"abc"}); err != nil || n != 30 {
		t.Fatalf("ask: %d %v", n, err)
	}
	var q any = balanceQuery{"ab"}
	if n, err := Ask[int](ctx, b, q); err != nil || n != 20 {
		t.Fatalf("ask through an interface: %d %v", n, err)
	}
	if _, err := Ask[int](ctx, b, balanceQuery{}); err == nil || errors.Is(err, ErrNoHandler) {
		t.Fatalf("handler error: %v", err)
	}
	if _, err := Ask[string](ctx, b, balanceQuery{"a"}); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("wrong result type: %v", err)
	}
	if _, err := Ask[int](ctx, b, openCmd{}); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("unknown query: %v", err)
	}
	if _, err := Ask[int, any](ctx, b, nil); !errors.Is(err, ErrNoHandler) {
		t.Fatalf("nil query: %v", err)
	}
}
