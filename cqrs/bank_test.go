package cqrs

import (
	"context"
	"errors"
	"fmt"
)

// The test domain, bank accounts: the one fixture file of the package's
// tests (example_test.go, in package cqrs_test, shows its own copy as
// documentation).

type account struct {
	Open    bool   `json:"open"`
	Owner   string `json:"owner"`
	Balance int    `json:"balance"`
	Txns    int    `json:"txns"`
}

type opened struct {
	Owner string `json:"owner"`
}

var errOverdraw = errors.New("insufficient funds")

type amount struct {
	Amount int `json:"amount"`
}

func deposited(n int) Event { return ev("Deposited", amount{n}) }

func evolveAccount(a account, e Event) (account, error) {
	switch e.Type {
	case "Opened":
		var d opened
		if err := e.Decode(&d); err != nil {
			return a, err
		}
		a.Open, a.Owner = true, d.Owner
	case "Deposited", "Withdrawn":
		n, _, err := change(e)
		if err != nil {
			return a, err
		}
		a.Balance += n
		a.Txns++
	default:
		return a, fmt.Errorf("unknown event %s", e.Type)
	}
	return a, nil
}

func openAcc(owner string) Decide[account] {
	return func(a account) ([]Event, error) {
		if a.Open {
			return nil, nil // idempotent
		}
		return []Event{ev("Opened", opened{owner})}, nil
	}
}

func deposit(n int) Decide[account] {
	return func(a account) ([]Event, error) {
		if !a.Open {
			return nil, errors.New("no such account")
		}
		return []Event{deposited(n)}, nil
	}
}

func withdraw(n int) Decide[account] {
	return func(a account) ([]Event, error) {
		if a.Balance < n {
			return nil, errOverdraw
		}
		return []Event{ev("Withdrawn", amount{n})}, nil
	}
}

// change is what a bank event does to a balance: +amount for Deposited,
// -amount for Withdrawn; ok is false for other events.
func change(e Event) (n int, ok bool, err error) {
	if e.Type != "Deposited" && e.Type != "Withdrawn" {
		return 0, false, nil
	}
	var d amount
	if err := e.Decode(&d); err != nil {
		return 0, false, err
	}
	if e.Type == "Withdrawn" {
		return -d.Amount, true, nil
	}
	return d.Amount, true, nil
}

// balances is a read-model handler: account stream -> balance.
func balances(ctx context.Context, tx *Tx[int], e Event) error {
	return scaledBalances(nil)(ctx, tx, e)
}

// scaledBalances is balances with every change multiplied by factor()
// (nil: 1), so a test can tell a copy built before a change of logic from
// one built after it.
func scaledBalances(factor func() int) ModelHandler[int] {
	return func(ctx context.Context, tx *Tx[int], e Event) error {
		n, ok, err := change(e)
		if !ok || err != nil {
			return err
		}
		if factor != nil {
			n *= factor()
		}
		b, _, err := tx.Get(ctx, e.StreamID)
		if err != nil {
			return err
		}
		tx.Put(e.StreamID, b+n)
		return nil
	}
}

// history is a read-model handler whose values depend on every event
// before them in order: stream -> the positions and types of its events.
func history(ctx context.Context, tx *Tx[[]string], e Event) error {
	h, _, err := tx.Get(ctx, e.StreamID)
	if err != nil {
		return err
	}
	h = append(append([]string(nil), h...), fmt.Sprintf("%d:%s", e.Position, e.Type))
	if e.Type == "Closed" {
		tx.Delete(e.StreamID)
		return nil
	}
	tx.Put(e.StreamID, h)
	return nil
}
