package cqrs_test

import (
	"context"
	"fmt"

	"github.com/sysdesign/patterns/cqrs"
)

// Read-your-writes without asking the store for its head: wait for the
// position the command's events took, then query the read model. The
// Runner's filter shows the read model only the events it wants.
func ExampleRepository_ExecuteWithPosition() {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	accounts, _ := cqrs.NewRepository(store, evolve, cqrs.WithStreamPrefix("account-"))
	model, _ := cqrs.NewMemoryReadModel("balances", balances)
	runner, _ := cqrs.NewRunner(store, model, cqrs.WithEventFilter(cqrs.EventFilter{StreamPrefixes: []string{"account-"}}))
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- runner.Run(ctx) }()

	_, _ = store.Append(ctx, "audit-1", cqrs.AnyVersion, cqrs.MustEvent("LoggedIn", nil)) // not shown to balances
	at, err := accounts.ExecuteWithPosition(ctx, "1", deposit(100))
	fmt.Println("version", at.Version, "position", at.Position, err)
	_ = runner.WaitFor(ctx, at.Position)
	bal, _, _ := model.Get(ctx, "account-1")
	fmt.Println("balance", bal, "filtered", runner.Stats().Filtered)
	stop()
	<-done
	// Output:
	// version 1 position 2 <nil>
	// balance 100 filtered 1
}
