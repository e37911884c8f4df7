// Command cqrs demonstrates the cqrs package with bank accounts: commands
// (open, deposit, withdraw — refused when it would overdraw) go through a
// command bus to event-sourced aggregates; two read models, balances and
// transaction histories, are kept up to date by projection runners and
// read through a query bus.
//
// With no flags it runs in memory; it shows commands and queries, an
// optimistic-concurrency conflict between two tellers, a snapshot, an
// idempotent retry, and a projection rebuild after the projection's code
// changed.
//
//	go run ./examples/cqrs                        # in memory
//	go run ./examples/cqrs -redis localhost:6379  # events, snapshots and read models in Redis
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sysdesign/patterns/cqrs"
)

// ---- The write side: the account aggregate.

// Account is an account's state, rebuilt from its events.
type Account struct {
	Open    bool   `json:"open"`
	Owner   string `json:"owner"`
	Balance int    `json:"balance"`
}

// Event payloads.
type (
	Opened struct {
		Owner string `json:"owner"`
	}
	Moved struct { // Deposited, Withdrawn
		Amount int `json:"amount"`
	}
)

var (
	ErrOverdraw  = errors.New("insufficient funds")
	ErrNoAccount = errors.New("no such account")
	ErrAmount    = errors.New("amount must be positive")
)

func evolve(a Account, e cqrs.Event) (Account, error) {
	switch e.Type {
	case "Opened":
		var d Opened
		err := e.Decode(&d)
		a.Open, a.Owner = true, d.Owner
		return a, err
	case "Deposited", "Withdrawn":
		var d Moved
		err := e.Decode(&d)
		if e.Type == "Withdrawn" {
			d.Amount = -d.Amount
		}
		a.Balance += d.Amount
		return a, err
	}
	return a, fmt.Errorf("unknown event %s", e.Type)
}

func (a Account) open(owner string) ([]cqrs.Event, error) {
	if a.Open {
		return nil, nil // opening twice changes nothing
	}
	return []cqrs.Event{cqrs.MustEvent("Opened", Opened{owner})}, nil
}

func (a Account) deposit(n int) ([]cqrs.Event, error) {
	switch {
	case !a.Open:
		return nil, ErrNoAccount
	case n <= 0:
		return nil, ErrAmount
	}
	return []cqrs.Event{cqrs.MustEvent("Deposited", Moved{n})}, nil
}

func (a Account) withdraw(n int) ([]cqrs.Event, error) {
	switch {
	case !a.Open:
		return nil, ErrNoAccount
	case n <= 0:
		return nil, ErrAmount
	case n > a.Balance:
		return nil, fmt.Errorf("%w: balance %d, withdrawal %d", ErrOverdraw, a.Balance, n)
	}
	return []cqrs.Event{cqrs.MustEvent("Withdrawn", Moved{n})}, nil
}

// Commands.
type (
	OpenAccount struct{ ID, Owner string }
	Deposit     struct {
		ID     string
		Amount int
	}
	Withdraw struct {
		ID     string
		Amount int
	}
)

// ---- The read side.

// Queries.
type (
	BalanceOf struct{ ID string }
	HistoryOf struct{ ID string }
)

func balanceHandler(ctx context.Context, tx *cqrs.Tx[int], e cqrs.Event) error {
	if e.Type != "Deposited" && e.Type != "Withdrawn" {
		return nil
	}
	var d Moved
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

// historyV2 switches the history projection to its second version, which
// also shows the running balance: deployed mid-demo, then rebuilt.
var historyV2 atomic.Bool

func historyHandler(ctx context.Context, tx *cqrs.Tx[[]string], e cqrs.Event) error {
	h, _, err := tx.Get(ctx, e.StreamID)
	if err != nil {
		return err
	}
	line := ""
	switch e.Type {
	case "Opened":
		var d Opened
		if err := e.Decode(&d); err != nil {
			return err
		}
		line = "opened for " + d.Owner
	case "Deposited", "Withdrawn":
		var d Moved
		if err := e.Decode(&d); err != nil {
			return err
		}
		sign := "+"
		if e.Type == "Withdrawn" {
			sign = "-"
		}
		line = fmt.Sprintf("%s%d", sign, d.Amount)
		if historyV2.Load() {
			// The running balance follows from the previous entry's; an
			// entry written by v1 has none.
			bal, known := 0, true
			if last := h[len(h)-1]; !strings.HasPrefix(last, "opened") {
				i := strings.LastIndex(last, "=")
				_, err := fmt.Sscanf(last[i+1:], "%d", &bal)
				known = i >= 0 && err == nil
			}
			if sign == "-" {
				d.Amount = -d.Amount
			}
			if known {
				line += fmt.Sprintf(" =%d", bal+d.Amount)
			} else {
				line += " =?"
			}
		}
	default:
		return nil
	}
	tx.Put(e.StreamID, append(append([]string(nil), h...), line))
	return nil
}

// model is what both read model kinds offer the demo.
type model[V any] interface {
	cqrs.Rebuilder
	Get(ctx context.Context, key string) (V, bool, error)
}

// countingStore counts the events loaded, to show what a snapshot saves.
type countingStore struct {
	cqrs.EventStore
	loaded atomic.Int64
}

func (c *countingStore) Load(ctx context.Context, id string, from int64) ([]cqrs.Event, error) {
	evs, err := c.EventStore.Load(ctx, id, from)
	c.loaded.Add(int64(len(evs)))
	return evs, err
}

type app struct {
	store    *countingStore
	head     func(context.Context) (int64, error)
	accounts *cqrs.Repository[Account]
	commands *cqrs.CommandBus
	queries  *cqrs.QueryBus
	runners  []*cqrs.Runner
	snaps    cqrs.SnapshotStore
}

func newApp(store cqrs.EventStore, snaps cqrs.SnapshotStore, balances model[int], history model[[]string]) (*app, error) {
	a := &app{store: &countingStore{EventStore: store}, head: store.(cqrs.Header).Head, snaps: snaps}
	var err error
	// What an operator must see (failed applies, a store behind its
	// projections, snapshot failures) goes to stderr; a quiet run logs
	// nothing.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a.accounts, err = cqrs.NewRepository(a.store, evolve, cqrs.WithStreamPrefix("account-"), cqrs.WithSnapshots(snaps, 5),
		cqrs.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	a.commands = cqrs.NewCommandBus()
	exec := func(ctx context.Context, id string, decide cqrs.Decide[Account]) error {
		_, err := a.accounts.Execute(ctx, id, decide)
		return err
	}
	err = errors.Join(
		cqrs.Handle(a.commands, func(ctx context.Context, c OpenAccount) error {
			return exec(ctx, c.ID, func(acc Account) ([]cqrs.Event, error) { return acc.open(c.Owner) })
		}),
		cqrs.Handle(a.commands, func(ctx context.Context, c Deposit) error {
			return exec(ctx, c.ID, func(acc Account) ([]cqrs.Event, error) { return acc.deposit(c.Amount) })
		}),
		cqrs.Handle(a.commands, func(ctx context.Context, c Withdraw) error {
			return exec(ctx, c.ID, func(acc Account) ([]cqrs.Event, error) { return acc.withdraw(c.Amount) })
		}),
	)
	if err != nil {
		return nil, err
	}
	// Queries read the read models only.
	a.queries = cqrs.NewQueryBus()
	err = errors.Join(
		cqrs.HandleQuery(a.queries, func(ctx context.Context, q BalanceOf) (int, error) {
			b, _, err := balances.Get(ctx, a.accounts.StreamID(q.ID))
			return b, err
		}),
		cqrs.HandleQuery(a.queries, func(ctx context.Context, q HistoryOf) ([]string, error) {
			h, _, err := history.Get(ctx, a.accounts.StreamID(q.ID))
			return h, err
		}),
	)
	if err != nil {
		return nil, err
	}
	for _, p := range []cqrs.Projection{balances, history} {
		r, err := cqrs.NewRunner(store, p, cqrs.WithBatchSize(100), cqrs.WithLogger(logger))
		if err != nil {
			return nil, err
		}
		a.runners = append(a.runners, r)
	}
	return a, nil
}

// settle waits until every read model has applied every event so far:
// read-your-writes for the demo's queries.
func (a *app) settle(ctx context.Context) {
	h, err := a.head(ctx)
	check(err)
	for _, r := range a.runners {
		check(r.WaitFor(ctx, h))
	}
}

func (a *app) do(ctx context.Context, cmd any) {
	err := a.commands.Dispatch(ctx, cmd)
	msg := "ok"
	if err != nil {
		msg = "REFUSED: " + err.Error()
	}
	fmt.Printf("  %-42s %s\n", fmt.Sprintf("%T%+v", cmd, cmd)[5:], msg)
}

func (a *app) show(ctx context.Context, ids ...string) {
	a.settle(ctx)
	for _, id := range ids {
		bal, err := cqrs.Ask[int](ctx, a.queries, BalanceOf{id})
		check(err)
		hist, err := cqrs.Ask[[]string](ctx, a.queries, HistoryOf{id})
		check(err)
		fmt.Printf("  %-6s balance %4d   history: %s\n", id, bal, strings.Join(hist, ", "))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func main() {
	redisAddr := flag.String("redis", "", "keep events, snapshots and read models in Redis at this address (default: in memory)")
	keep := flag.Bool("keep", false, "with -redis: keep the demo's keys (default: delete them at the end)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var (
		store    cqrs.EventStore
		snaps    cqrs.SnapshotStore
		balances model[int]
		history  model[[]string]
	)
	if *redisAddr != "" {
		c := redis.NewClient(&redis.Options{Addr: *redisAddr, ContextTimeoutEnabled: true})
		defer c.Close()
		prefix := fmt.Sprintf("demo:cqrs:%d:", time.Now().UnixNano())
		rs, err := cqrs.NewRedisStore(c, cqrs.WithPrefix(prefix), cqrs.WithBlock(50*time.Millisecond))
		check(err)
		ss, err := cqrs.NewRedisSnapshotStore(c, cqrs.WithPrefix(prefix), cqrs.WithSnapshotTTL(time.Hour))
		check(err)
		b, err := cqrs.NewRedisReadModel(c, "balances", balanceHandler, cqrs.WithPrefix(prefix))
		check(err)
		h, err := cqrs.NewRedisReadModel(c, "history", historyHandler, cqrs.WithPrefix(prefix))
		check(err)
		store, snaps, balances, history = rs, ss, b, h
		fmt.Printf("== bank accounts, in Redis at %s (keys under %s)\n", *redisAddr, prefix)
		if !*keep {
			defer func() {
				iter := c.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
				n := 0
				for iter.Next(context.Background()) {
					c.Del(context.Background(), iter.Val())
					n++
				}
				fmt.Printf("\n(deleted the demo's %d keys; -keep keeps them)\n", n)
			}()
		}
	} else {
		b, err := cqrs.NewMemoryReadModel("balances", balanceHandler)
		check(err)
		h, err := cqrs.NewMemoryReadModel("history", historyHandler)
		check(err)
		store, snaps, balances, history = cqrs.NewMemoryStore(), cqrs.NewMemorySnapshotStore(), b, h
		fmt.Println("== bank accounts, in memory (-redis addr for Redis)")
	}
	a, err := newApp(store, snaps, balances, history)
	check(err)

	// The projections follow the log in the background.
	runCtx, stopRunners := context.WithCancel(ctx)
	stopped := make(chan error, len(a.runners))
	for _, r := range a.runners {
		go func() { stopped <- r.Run(runCtx) }()
	}

	fmt.Println("\n== 1. commands through the command bus; queries through the query bus, from the read models")
	a.do(ctx, OpenAccount{"alice", "Alice"})
	a.do(ctx, Deposit{"alice", 100})
	a.do(ctx, Withdraw{"alice", 30})
	a.do(ctx, Withdraw{"alice", 500})
	a.do(ctx, Deposit{"bob", 10})
	a.do(ctx, OpenAccount{"bob", "Bob"})
	a.do(ctx, Deposit{"bob", 50})
	a.show(ctx, "alice", "bob")

	fmt.Println("\n== 2. a conflict: two tellers act on the same version of alice's account")
	_, err = a.accounts.Execute(ctx, "alice", func(acc Account) ([]cqrs.Event, error) {
		fmt.Printf("  teller B loads alice: balance %d; decides to withdraw 60\n", acc.Balance)
		v, err := a.accounts.Execute(ctx, "alice", func(acc Account) ([]cqrs.Event, error) { return acc.withdraw(60) })
		fmt.Printf("  teller A, meanwhile, withdraws 60 from balance %d: version %d, %v\n", acc.Balance, v, err)
		return acc.withdraw(60)
	})
	var ce *cqrs.ConflictError
	if errors.As(err, &ce) {
		fmt.Printf("  teller B's append: %v\n", err)
	}
	_, err = a.accounts.Execute(ctx, "alice", func(acc Account) ([]cqrs.Event, error) {
		fmt.Printf("  teller B reloads: balance %d; decides again\n", acc.Balance)
		return acc.withdraw(60)
	})
	fmt.Printf("  teller B's retry: %v\n", err)
	a.show(ctx, "alice")

	fmt.Println("\n== 3. a snapshot every 5 events: loading replays only what came after it")
	a.do(ctx, OpenAccount{"carol", "Carol"})
	for i := 1; i <= 11; i++ {
		check(a.commands.Dispatch(ctx, Deposit{"carol", i}))
	}
	fmt.Println("  … 11 deposits to carol")
	snap, ok, err := snaps.LoadSnapshot(ctx, a.accounts.StreamID("carol"))
	check(err)
	a.store.loaded.Store(0)
	acc, v, err := a.accounts.Load(ctx, "carol")
	check(err)
	fromSnap := a.store.loaded.Load()
	full, err := cqrs.NewRepository(store, evolve, cqrs.WithStreamPrefix("account-"))
	check(err)
	facc, fv, err := full.Load(ctx, "carol")
	check(err)
	fmt.Printf("  snapshot found: %v, at version %d: %s\n", ok, snap.Version, snap.Data)
	fmt.Printf("  load from the snapshot: version %d, balance %d, replayed %d events\n", v, acc.Balance, fromSnap)
	fmt.Printf("  full replay:            version %d, balance %d, replayed %d events; same state: %v\n", fv, facc.Balance, fv, acc == facc)

	fmt.Println("\n== 4. an idempotent retry: an append whose reply was lost, sent again with the same event id")
	stream := a.accounts.StreamID("bob")
	_, bv, err := a.accounts.Load(ctx, "bob")
	check(err)
	e := cqrs.MustEvent("Deposited", Moved{25}).WithID("transfer-7731")
	v1, err1 := store.Append(ctx, stream, bv, e)
	v2, err2 := store.Append(ctx, stream, bv, e)
	fmt.Printf("  first append: version %d %v; the retry: version %d %v (nothing appended twice)\n", v1, err1, v2, err2)
	a.show(ctx, "bob")

	fmt.Println("\n== 5. a projection rebuild: history v2 adds the running balance; rebuilt from position 1 and swapped in")
	historyV2.Store(true)
	fmt.Println("  deployed, not yet rebuilt: old entries stay in v1 form, so new ones cannot know the balance:")
	a.do(ctx, Deposit{"bob", 5})
	a.show(ctx, "bob")
	start := time.Now()
	check(a.runners[1].Rebuild(ctx))
	h, _ := a.head(ctx)
	fmt.Printf("  rebuilt from %d events in %v; the live runner carries on on the new copy:\n", h, time.Since(start).Round(time.Microsecond))
	a.do(ctx, Withdraw{"bob", 20})
	a.show(ctx, "alice", "bob", "carol")

	stopRunners()
	for range a.runners {
		check(<-stopped)
	}
	fmt.Println("\n== runners stopped")
	rs := a.accounts.Stats()
	fmt.Printf("  repository: %d commands appended %d events, %d conflicts\n", rs.Commands, rs.Appended, rs.Conflicts)
	for _, r := range a.runners {
		st := r.Stats()
		fmt.Printf("  runner: position %d, %d events in %d batches, %d rebuilds, %d failures\n",
			st.Position, st.Applied, st.Batches, st.Rebuilds, st.Failures)
	}
}
