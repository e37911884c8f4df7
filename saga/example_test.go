package saga_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/sysdesign/patterns/saga"
)

// Order is the data the order saga's steps share.
type Order struct {
	ID            string
	Total         int
	ReservationID string
	ChargeID      string
}

var errDeclined = errors.New("card declined")

// orderSteps are the seed's order saga; declines makes the payment fail.
func orderSteps(declines bool) []saga.Step[Order] {
	return []saga.Step[Order]{
		{
			Name: "reserve",
			Action: func(ctx context.Context, o *Order) error {
				o.ReservationID = "r-" + o.ID
				return nil
			},
			Compensate: func(ctx context.Context, o *Order) error {
				fmt.Println("released", saga.StepKey(ctx))
				return nil
			},
		},
		{
			Name: "charge",
			Action: func(ctx context.Context, o *Order) error {
				if declines {
					return saga.Permanent(errDeclined) // retrying will not help
				}
				o.ChargeID = "c-" + o.ID
				return nil
			},
			Compensate: func(ctx context.Context, o *Order) error { return nil },
		},
		{
			Name:   "confirm",
			Action: func(ctx context.Context, o *Order) error { return nil },
		},
	}
}

func Example() {
	s, err := saga.New("order", orderSteps(false))
	if err != nil {
		panic(err)
	}
	res, err := s.Execute(context.Background(), "o-1", Order{ID: "o-1", Total: 42})
	fmt.Println(res.Status, err, res.Data.ReservationID, res.Data.ChargeID)
	for _, st := range res.Steps {
		fmt.Println(st.Name, st.State, st.Attempts)
	}
	// Output:
	// completed <nil> r-o-1 c-o-1
	// reserve step-succeeded 1
	// charge step-succeeded 1
	// confirm step-succeeded 1
}

// A failing step undoes the steps before it, newest first.
func ExampleSaga_Execute_compensation() {
	s, _ := saga.New("order", orderSteps(true))
	res, err := s.Execute(context.Background(), "o-2", Order{ID: "o-2"})
	fmt.Println(res.Status, errors.Is(err, saga.ErrCompensated), errors.Is(err, errDeclined))
	fmt.Println(err)
	// Executing a finished id runs nothing and returns what it did.
	again, err2 := s.Execute(context.Background(), "o-2", Order{ID: "o-2"})
	fmt.Println(again.Replayed, again.Status, errors.Is(err2, saga.ErrCompensated))
	// Output:
	// released order/o-2/reserve
	// compensated true true
	// saga order/o-2 compensated: step "charge": card declined
	// true compensated true
}

// crashingLog stands for a process that dies after a number of log writes.
type crashingLog struct {
	saga.Log
	mu   sync.Mutex
	left int
}

func (l *crashingLog) Append(ctx context.Context, name, id string, token int64, lease time.Duration, e []saga.Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left--; l.left < 0 {
		return errors.New("process died")
	}
	return l.Log.Append(ctx, name, id, token, lease, e)
}

// Recover finishes the sagas of a process that died: here the first
// process dies after "charge" began; once its lease has expired a second
// process rolls the saga back.
func ExampleSaga_Recover() {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	shared, _ := saga.NewMemoryLog(saga.WithClock(clock)) // stands for Redis

	first, _ := saga.New("order", orderSteps(false), saga.WithLog(&crashingLog{Log: shared, left: 1}))
	_, err := first.Execute(context.Background(), "o-3", Order{ID: "o-3"})
	fmt.Println("first process:", err != nil)

	now = now.Add(time.Minute) // the lease (30s by default) runs out
	second, _ := saga.New("order", orderSteps(false), saga.WithLog(shared))
	results, err := second.Recover(context.Background())
	for _, r := range results {
		fmt.Println("recovered", r.ID, r.Status, r.Recovered, err)
	}
	// Output:
	// first process: true
	// released order/o-3/reserve
	// recovered o-3 compensated true <nil>
}

// StepKey names a step of one saga execution: use it as the idempotency
// key of the step's side effect.
func ExampleStepKey() {
	s, _ := saga.New("order", []saga.Step[Order]{{
		Name: "charge",
		Action: func(ctx context.Context, o *Order) error {
			fmt.Println("idempotency key:", saga.StepKey(ctx))
			return nil
		},
	}})
	_, _ = s.Execute(context.Background(), "o-4", Order{})
	// Output: idempotency key: order/o-4/charge
}

// A Redis log lets any process of a fleet recover a saga.
func ExampleNewRedisLog() {
	mr, _ := miniredis.Run() // stands for your Redis
	defer mr.Close()
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer client.Close()

	l, err := saga.NewRedisLog(client, saga.WithPrefix("shop:saga:"), saga.WithRetention(24*time.Hour))
	if err != nil {
		panic(err)
	}
	s, _ := saga.New("order", orderSteps(false), saga.WithLog(l))
	res, err := s.Execute(context.Background(), "o-5", Order{ID: "o-5"})
	fmt.Println(res.Status, err)
	rec, _ := l.Load(context.Background(), "order", "o-5")
	for _, e := range rec.Entries {
		fmt.Println(strings.TrimSpace(e.Kind.String() + " " + e.StepName))
	}
	// Output:
	// completed <nil>
	// started
	// step-begun reserve
	// step-done reserve
	// step-begun charge
	// step-done charge
	// step-begun confirm
	// step-done confirm
	// finished
}

// An observer sees every transition as it is logged.
func ExampleWithObserver() {
	s, _ := saga.New("order", orderSteps(true), saga.WithObserver(func(e saga.Event) {
		fmt.Println(e.Kind, e.StepName, e.Err)
	}))
	_, _ = s.Execute(context.Background(), "o-6", Order{ID: "o-6"})
	// Output:
	// started  <nil>
	// step-begun reserve <nil>
	// step-done reserve <nil>
	// step-begun charge <nil>
	// step-failed charge card declined
	// compensation-begun reserve <nil>
	// released order/o-6/reserve
	// compensation-done reserve <nil>
	// finished charge card declined
}

// WithLogger logs what an operator must see: here a compensation that
// gives up after its retries, which leaves the saga Failed.
func ExampleWithLogger() {
	// Drop the time and the (jittered) backoff, so the output is stable.
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "backoff" {
			return slog.Attr{}
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: noTime}))
	steps := []saga.Step[Order]{
		{Name: "charge", Action: func(context.Context, *Order) error { return nil },
			Compensate: func(context.Context, *Order) error { return errors.New("refunds down") }},
		{Name: "ship", Action: func(context.Context, *Order) error { return saga.Permanent(errors.New("no stock")) }},
	}
	s, _ := saga.New("order", steps, saga.WithLogger(logger),
		saga.WithCompensationPolicy(saga.Policy{MaxAttempts: 2, Backoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	_, err := s.Execute(context.Background(), "o-7", Order{ID: "o-7"})
	fmt.Println(errors.Is(err, saga.ErrFailed), s.Stats().Failed)
	// Output:
	// level=WARN msg="saga: retrying a step" saga=order id=o-7 step=charge attempt=1 err="refunds down"
	// level=ERROR msg="saga: a compensation gave up" saga=order id=o-7 step=charge attempt=2 err="refunds down"
	// level=ERROR msg="saga: failed, an operator must act" saga=order id=o-7 step=charge status=failed err="refunds down"
	// true 1
}
