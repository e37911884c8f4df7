package cqrs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sysdesign/patterns/cqrs"
)

// Account is the aggregate's state.
type Account struct {
	Open    bool
	Balance int
}

type Amount struct {
	Amount int `json:"amount"`
}

var ErrOverdraw = errors.New("insufficient funds")

func evolve(a Account, e cqrs.Event) (Account, error) {
	var d Amount
	switch e.Type {
	case "Opened":
		a.Open = true
	case "Deposited":
		err := e.Decode(&d)
		a.Balance += d.Amount
		return a, err
	case "Withdrawn":
		err := e.Decode(&d)
		a.Balance -= d.Amount
		return a, err
	}
	return a, nil
}

func withdraw(n int) cqrs.Decide[Account] {
	return func(a Account) ([]cqrs.Event, error) {
		if a.Balance < n {
			return nil, ErrOverdraw
		}
		return []cqrs.Event{cqrs.MustEvent("Withdrawn", Amount{n})}, nil
	}
}

func deposit(n int) cqrs.Decide[Account] {
	return func(Account) ([]cqrs.Event, error) {
		return []cqrs.Event{cqrs.MustEvent("Deposited", Amount{n})}, nil
	}
}

func balances(ctx context.Context, tx *cqrs.Tx[int], e cqrs.Event) error {
	var d Amount
	switch e.Type {
	case "Deposited", "Withdrawn":
	default:
		return nil
	}
	if err := e.Decode(&d); err != nil {
		return err
	}
	b, _, err := tx.Get(ctx, e.StreamID)
	if err != nil {
		return err
	}
	if e.Type == "Withdrawn" {
		d.Amount = -d.Amount
	}
	tx.Put(e.StreamID, b+d.Amount)
	return nil
}

// Commands change aggregates through a Repository; a Runner keeps a read
// model up to date; queries read the read model.
func Example() {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	accounts, _ := cqrs.NewRepository(store, evolve, cqrs.WithStreamPrefix("account-"))

	_, _ = accounts.Execute(ctx, "1", deposit(100))
	v, err := accounts.Execute(ctx, "1", withdraw(30))
	fmt.Println("version", v, err)
	_, err = accounts.Execute(ctx, "1", withdraw(500))
	fmt.Println(err)

	model, _ := cqrs.NewMemoryReadModel("balances", balances)
	runner, _ := cqrs.NewRunner(store, model)
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- runner.Run(ctx) }()
	_ = runner.WaitFor(ctx, 2) // read-your-writes: up to position 2
	bal, _, _ := model.Get(ctx, "account-1")
	fmt.Println("balance", bal)
	stop()
	fmt.Println("stopped", <-done)
	// Output:
	// version 2 <nil>
	// insufficient funds
	// balance 70
	// stopped <nil>
}

// Optimistic concurrency: an append with a stale expected version is
// refused with the stream's actual version.
func ExampleEventStore_Append_conflict() {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	_, _ = store.Append(ctx, "account-1", cqrs.NoStream, cqrs.MustEvent("Opened", nil))
	_, _ = store.Append(ctx, "account-1", 1, cqrs.MustEvent("Deposited", Amount{5}))

	_, err := store.Append(ctx, "account-1", 1, cqrs.MustEvent("Deposited", Amount{7}))
	var ce *cqrs.ConflictError
	fmt.Println(errors.Is(err, cqrs.ErrConflict), errors.As(err, &ce) && ce.Actual == 2)
	fmt.Println(err)
	// Output:
	// true true
	// cqrs: stream "account-1": expected version 1, stream is at 2
}

// An append retried with the same event ids (its reply was lost) is not
// appended twice.
func ExampleEvent_WithID() {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	e := cqrs.MustEvent("Deposited", Amount{5}).WithID("payment-981")
	v1, _ := store.Append(ctx, "account-1", cqrs.NoStream, e)
	v2, err := store.Append(ctx, "account-1", cqrs.NoStream, e) // the retry
	all, _ := store.ReadAll(ctx, 1, 10)
	fmt.Println(v1, v2, err, len(all))
	// Output: 1 1 <nil> 1
}

// Upcasters turn old events into the current schema on load.
func ExampleUpcasters() {
	ctx := context.Background()
	raw := cqrs.NewMemoryStore()
	// Written by old code: dollars. The code now counts cents.
	_, _ = raw.Append(ctx, "account-1", cqrs.NoStream, cqrs.MustEvent("Deposited", map[string]int{"dollars": 3}))

	up := cqrs.NewUpcasters()
	_ = up.Register("Deposited", 1, func(e cqrs.Event) (cqrs.Event, error) {
		var v1 struct{ Dollars int }
		if err := json.Unmarshal(e.Data, &v1); err != nil {
			return e, err
		}
		e.Data, _ = json.Marshal(map[string]int{"cents": v1.Dollars * 100})
		return e, nil
	})
	store, _ := cqrs.NewUpcastingStore(raw, up)
	evs, _ := store.Load(ctx, "account-1", 1)
	fmt.Println(evs[0].Type, string(evs[0].Data), evs[0].Schema())
	// Output: Deposited {"cents":300} 2
}

// Runner.Rebuild builds a fresh copy of a read model from the whole log
// and swaps it in.
func ExampleRunner_Rebuild() {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	for _, n := range []int{10, 20, 30} {
		_, _ = store.Append(ctx, "account-1", cqrs.AnyVersion, cqrs.MustEvent("Deposited", Amount{n}))
	}
	count := 0
	model, _ := cqrs.NewMemoryReadModel("deposits", func(ctx context.Context, tx *cqrs.Tx[int], e cqrs.Event) error {
		count++
		tx.Put(e.StreamID, int(e.Position))
		return nil
	})
	runner, _ := cqrs.NewRunner(store, model)
	_, _ = runner.CatchUp(ctx)
	_ = runner.Rebuild(ctx)
	v, _, _ := model.Get(ctx, "account-1")
	fmt.Println(v, count)
	// Output: 3 6
}

// Typed commands and queries.
func ExampleCommandBus() {
	type Deposit struct {
		Account string
		Amount  int
	}
	type BalanceOf struct{ Account string }

	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	accounts, _ := cqrs.NewRepository(store, evolve)
	model, _ := cqrs.NewMemoryReadModel("balances", balances)
	runner, _ := cqrs.NewRunner(store, model)

	commands := cqrs.NewCommandBus()
	_ = cqrs.Handle(commands, func(ctx context.Context, c Deposit) error {
		_, err := accounts.Execute(ctx, c.Account, deposit(c.Amount))
		return err
	})
	queries := cqrs.NewQueryBus()
	_ = cqrs.HandleQuery(queries, func(ctx context.Context, q BalanceOf) (int, error) {
		b, _, err := model.Get(ctx, q.Account)
		return b, err
	})

	_ = commands.Dispatch(ctx, Deposit{"a", 42})
	err := commands.Dispatch(ctx, "withdraw everything")
	_, _ = runner.CatchUp(ctx)
	bal, _ := cqrs.Ask[int](ctx, queries, BalanceOf{"a"})
	fmt.Println(bal, errors.Is(err, cqrs.ErrNoHandler))
	// Output: 42 true
}

// The same on Redis (here miniredis, for the example to run anywhere).
func ExampleNewRedisStore() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	store, _ := cqrs.NewRedisStore(client, cqrs.WithPrefix("bank:"))
	accounts, _ := cqrs.NewRepository(store, evolve, cqrs.WithStreamPrefix("account-"))
	_, _ = accounts.Execute(ctx, "1", deposit(100))
	_, err := accounts.Execute(ctx, "1", withdraw(40))
	a, v, _ := accounts.Load(ctx, "1")
	fmt.Println(a.Balance, v, err)

	model, _ := cqrs.NewRedisReadModel(client, "balances", balances, cqrs.WithPrefix("bank:"))
	runner, _ := cqrs.NewRunner(store, model)
	pos, _ := runner.CatchUp(ctx)
	bal, _, _ := model.Get(ctx, "account-1")
	fmt.Println(pos, bal)
	// Output:
	// 60 2 <nil>
	// 2 60
}

// WithObserver sees what an operator must know about a Runner (here a
// rebuild) or a Repository; Stats counts it.
func ExampleWithObserver() {
	ctx := context.Background()
	store := cqrs.NewMemoryStore()
	_, _ = store.Append(ctx, "account-1", cqrs.NoStream, cqrs.MustEvent("Deposited", Amount{10}))
	model, _ := cqrs.NewMemoryReadModel("balances", balances)
	runner, _ := cqrs.NewRunner(store, model, cqrs.WithObserver(func(o cqrs.Observation) {
		fmt.Println(o.Kind, o.Projection, o.Position, o.Err)
	}))
	_, _ = runner.CatchUp(ctx)
	_ = runner.Rebuild(ctx)
	st := runner.Stats()
	fmt.Println(st.Applied, st.Rebuilds)
	// Output:
	// rebuilt balances 1 <nil>
	// 1 1
}

// A projection keyed by stream reads, per batch, the values its handler
// will update in one HMGET instead of one HGET each.
func ExampleWithPrefetch() {
	mr, _ := miniredis.Run()
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer client.Close()
	ctx := context.Background()

	store, _ := cqrs.NewRedisStore(client, cqrs.WithPrefix("bank:"))
	for _, id := range []string{"account-1", "account-2", "account-1"} {
		_, _ = store.Append(ctx, id, cqrs.AnyVersion, cqrs.MustEvent("Deposited", Amount{10}))
	}
	byStream := func(e cqrs.Event) (string, bool) { return e.StreamID, true } // balances keys by stream
	model, _ := cqrs.NewRedisReadModel(client, "balances", balances, cqrs.WithPrefix("bank:"), cqrs.WithPrefetch(byStream))
	runner, _ := cqrs.NewRunner(store, model)
	_, _ = runner.CatchUp(ctx)
	a, _, _ := model.Get(ctx, "account-1")
	b, _, _ := model.Get(ctx, "account-2")
	fmt.Println(a, b)
	// Output: 20 10
}
