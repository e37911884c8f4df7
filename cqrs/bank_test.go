package cqrs

import (
	"context"
	"errors"
	"fmt"
)

// The test domain: bank accounts.

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

func evolveAccount(a account, e Event) (account, error) {
	switch e.Type {
	case "Opened":
		var d opened
		if err := e.Decode(&d); err != nil {
			return a, err
		}
		a.Open, a.Owner = true, d.Owner
	case "Deposited", "Withdrawn":
		var d amount
		if err := e.Decode(&d); err != nil {
			return a, err
		}
		if e.Type == "Withdrawn" {
			d.Amount = -d.Amount
		}
		a.Balance += d.Amount
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

// balances is a read-model handler: account stream -> balance.
func balances(ctx context.Context, tx *Tx[int], e Event) error {
	var d amount
	switch e.Type {
	case "Deposited", "Withdrawn":
	default:
		return nil
	}
	if err := e.Decode(&d); err != nil {
		return err
	}
	if e.Type == "Withdrawn" {
		d.Amount = -d.Amount
	}
	b, _, err := tx.Get(ctx, e.StreamID)
	if err != nil {
		return err
	}
	tx.Put(e.StreamID, b+d.Amount)
	return nil
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
