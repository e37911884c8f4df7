// Command saga demonstrates the saga package with the order saga: reserve
// inventory, charge the payment, send the confirmation.
//
// With no flags it runs, in memory, three orders: one that completes, one
// whose payment is declined (the reservation is released), and one whose
// process "crashes" mid-way and is recovered by a second process; after
// each it prints the saga's log.
//
//	go run ./examples/saga                         # the three demos
//	go run ./examples/saga -fail charge            # one order, payment declined
//	go run ./examples/saga -crash-after 2          # the process dies after 2 log writes; another recovers
//	go run ./examples/saga -crash-after 2 -recovery forward
//	go run ./examples/saga -redis localhost:6379 -crash-after 2 -exit   # really exit mid-saga…
//	go run ./examples/saga -redis localhost:6379 -recover -id o-1       # …and recover in a new process
//	go run ./examples/saga -redis localhost:6379 -recover               # recover what is abandoned now, or say there is nothing
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sysdesign/patterns/saga"
)

// Order is the saga's data: what the steps record is seen by later steps
// and by compensations, and logged after every transition.
type Order struct {
	ID            string
	Item          string
	Qty           int
	Total         int
	ReservationID string
	ChargeID      string
}

// service stands for a remote service that dedupes requests by
// idempotency key, as inventory and payment APIs do.
type service struct {
	name string
	mu   sync.Mutex
	done map[string]string // key -> "done" or "undone"
}

func newService(name string) *service { return &service{name: name, done: map[string]string{}} }

func (s *service) do(key, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done[key] != "" {
		fmt.Printf("    %-9s %s again: already %s, nothing to do (key %s)\n", s.name, what, s.done[key], key)
		return
	}
	s.done[key] = "done"
	fmt.Printf("    %-9s %s (key %s)\n", s.name, what, key)
}

func (s *service) undo(key, what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.done[key] {
	case "done":
		fmt.Printf("    %-9s %s (key %s)\n", s.name, what, key)
	case "":
		fmt.Printf("    %-9s %s: nothing was done under key %s, nothing to undo\n", s.name, what, key)
	}
	s.done[key] = "undone" // a late duplicate "do" is now refused
}

var errDeclined = errors.New("card declined")

func steps(inventory, payments, mail *service, fail string) []saga.Step[Order] {
	failing := func(step string) error {
		if fail == step {
			return saga.Permanent(fmt.Errorf("%s: %w", step, errDeclined))
		}
		return nil
	}
	return []saga.Step[Order]{
		{
			Name: "reserve-inventory",
			Action: func(ctx context.Context, o *Order) error {
				if err := failing("reserve-inventory"); err != nil {
					return err
				}
				inventory.do(saga.StepKey(ctx), fmt.Sprintf("reserve %d×%s", o.Qty, o.Item))
				o.ReservationID = "res-" + o.ID
				return nil
			},
			Compensate: func(ctx context.Context, o *Order) error {
				inventory.undo(saga.StepKey(ctx), "release reservation")
				o.ReservationID = ""
				return nil
			},
		},
		{
			Name: "charge-payment",
			Action: func(ctx context.Context, o *Order) error {
				if err := failing("charge-payment"); err != nil {
					return err
				}
				payments.do(saga.StepKey(ctx), fmt.Sprintf("charge $%d", o.Total))
				o.ChargeID = "ch-" + o.ID
				return nil
			},
			Compensate: func(ctx context.Context, o *Order) error {
				payments.undo(saga.StepKey(ctx), "refund")
				o.ChargeID = ""
				return nil
			},
		},
		{
			// No compensation: an e-mail cannot be unsent, so it goes last.
			Name: "send-confirmation",
			Action: func(ctx context.Context, o *Order) error {
				if err := failing("send-confirmation"); err != nil {
					return err
				}
				mail.do(saga.StepKey(ctx), "send confirmation for "+o.ReservationID+", "+o.ChargeID)
				return nil
			},
		},
	}
}

// crashingLog is a process that dies after a number of log writes: the
// write that would exceed them never happens.
type crashingLog struct {
	saga.Log
	mu     sync.Mutex
	writes int
	exit   bool
	id     string // the order, for the hint printed at exit
}

var errCrashed = errors.New("process crashed")

func (l *crashingLog) Claim(ctx context.Context, name, id string, lease time.Duration, e []saga.Entry) (saga.Claim, error) {
	if err := l.write(); err != nil {
		return saga.Claim{}, err
	}
	return l.Log.Claim(ctx, name, id, lease, e)
}

func (l *crashingLog) Append(ctx context.Context, name, id string, token int64, lease time.Duration, e []saga.Entry) error {
	if err := l.write(); err != nil {
		return err
	}
	return l.Log.Append(ctx, name, id, token, lease, e)
}

func (l *crashingLog) write() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writes--; l.writes < 0 {
		if l.exit {
			fmt.Printf("  *** the process exits before its next log write; run again with -recover -id %s\n", l.id)
			os.Exit(3)
		}
		return errCrashed
	}
	return nil
}

type demo struct {
	log      saga.Log
	clock    *clock // nil: real time
	lease    time.Duration
	recovery saga.Recovery
	services [3]*service
}

// clock is a settable clock: in memory the demo "waits" for a lease to
// expire by moving it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (d *demo) saga(l saga.Log, fail string, process string) *saga.Saga[Order] {
	opts := []saga.Option{
		saga.WithLog(l), saga.WithLease(d.lease), saga.WithRecovery(d.recovery),
		saga.WithOnFailed(func(e saga.Event) {
			fmt.Printf("  !!! saga %s FAILED at %s: %v: an operator must act\n", e.ID, e.StepName, e.Err)
		}),
		saga.WithObserver(func(e saga.Event) {
			if e.Kind == saga.Started || e.Kind == saga.Finished {
				fmt.Println(strings.TrimRight(fmt.Sprintf("  [%s] %s %s %s", process, e.ID, e.Kind, statusOf(e)), " "))
			}
		}),
	}
	if d.clock != nil {
		opts = append(opts, saga.WithClock(d.clock.Now))
	}
	s, err := saga.New("order", steps(d.services[0], d.services[1], d.services[2], fail), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return s
}

func statusOf(e saga.Event) string {
	if e.Kind != saga.Finished {
		return ""
	}
	return e.Status.String()
}

// run executes one order, crashing after crashAfter log writes if ≥ 0,
// then recovers it in a second "process" and prints the log.
func (d *demo) run(ctx context.Context, id, fail string, crashAfter int, exit bool) {
	o := Order{ID: id, Item: "widget", Qty: 2, Total: 40}
	l := d.log
	if crashAfter >= 0 {
		l = &crashingLog{Log: d.log, writes: crashAfter, exit: exit, id: id}
	}
	res, err := d.saga(l, fail, "process 1").Execute(ctx, id, o)
	switch {
	case errors.Is(err, errCrashed):
		fmt.Printf("  [process 1] crashed after %d log writes, leaving the saga %s\n", crashAfter, res.Status)
		d.recover(ctx)
	case err != nil:
		fmt.Printf("  result: %s: %v\n", res.Status, err)
	default:
		fmt.Printf("  result: %s, reservation %s, charge %s\n", res.Status, res.Data.ReservationID, res.Data.ChargeID)
	}
	d.printLog(ctx, id)
}

func (d *demo) recover(ctx context.Context) {
	s := d.saga(d.log, "", "process 2")
	if d.clock != nil {
		d.clock.Advance(d.lease + time.Second)
		fmt.Printf("  … %s pass: the lease of process 1 expires\n", d.lease+time.Second)
	}
	deadline := time.Now().Add(d.lease + 5*time.Second)
	for {
		results, err := s.Recover(ctx)
		if err != nil {
			fmt.Println("  recover:", err)
		}
		for _, r := range results {
			fmt.Printf("  [process 2] recovered %s (%s): %s\n", r.ID, d.recovery, r.Status)
		}
		if len(results) > 0 || d.clock != nil || time.Now().After(deadline) {
			return
		}
		time.Sleep(200 * time.Millisecond) // a real lease runs out in real time
	}
}

// recoverOnce is -recover: it finishes what is recoverable now and says
// at once when there is nothing, instead of waiting. Given an id still
// running under a live lease, it waits for that lease to run out.
func (d *demo) recoverOnce(ctx context.Context, id string) {
	if id != "" {
		rec, err := d.log.Load(ctx, "order", id)
		switch {
		case errors.Is(err, saga.ErrNotFound):
			fmt.Printf("  nothing to recover: the log has no order %s\n", id)
			return
		case err != nil:
			fmt.Println("  recover:", err)
			return
		case rec.Status != saga.Running:
			fmt.Printf("  nothing to recover: order %s already finished (%s)\n", id, rec.Status)
			return
		}
		fmt.Printf("  order %s is running: waiting up to %s for its lease to expire\n", id, d.lease)
		d.recover(ctx)
		return
	}
	s := d.saga(d.log, "", "process 2")
	results, err := s.Recover(ctx)
	if err != nil {
		fmt.Println("  recover:", err)
	}
	for _, r := range results {
		fmt.Printf("  [process 2] recovered %s (%s): %s\n", r.ID, d.recovery, r.Status)
	}
	if len(results) == 0 && err == nil {
		fmt.Printf("  nothing to recover: no saga is running under an expired lease. A process that exited less\n"+
			"  than a lease (%s) ago is not recoverable yet: run again then, or give its -id to wait for it.\n", d.lease)
	}
}

func (d *demo) printLog(ctx context.Context, id string) {
	rec, err := d.log.Load(ctx, "order", id)
	if err != nil {
		fmt.Println("  log:", err)
		return
	}
	fmt.Printf("  log of %s (%s):\n", id, rec.Status)
	for i, e := range rec.Entries {
		line := fmt.Sprintf("    %2d %-19s %-18s", i+1, e.Kind, e.StepName)
		if e.Kind == saga.Finished {
			line += " " + e.Status.String()
		}
		if e.Attempts > 0 {
			line += fmt.Sprintf(" attempts=%d", e.Attempts)
		}
		if e.Err != "" {
			line += " err=" + e.Err
		}
		fmt.Printf("%s data=%s\n", line, e.Data)
	}
}

func main() {
	fail := flag.String("fail", "", "make this step fail: reserve-inventory, charge-payment or send-confirmation")
	crashAfter := flag.Int("crash-after", -1, "the process crashes after this many log writes (0-4); a second process recovers")
	recovery := flag.String("recovery", "back", "how Recover finishes a crashed saga: back (compensate) or forward (carry on)")
	redisAddr := flag.String("redis", "", "keep the log in Redis at this address instead of in memory")
	exit := flag.Bool("exit", false, "with -redis and -crash-after: really exit at the crash point")
	onlyRecover := flag.Bool("recover", false, "with -redis: only recover sagas that crashed processes left")
	id := flag.String("id", "", "the order id (default: one per run)")
	flag.Parse()

	d := &demo{lease: 30 * time.Second, recovery: saga.RollBack}
	if *recovery == "forward" {
		d.recovery = saga.RollForward
	} else if *recovery != "back" {
		fmt.Fprintln(os.Stderr, "-recovery must be back or forward")
		os.Exit(2)
	}
	for i, n := range []string{"inventory", "payments", "mail"} {
		d.services[i] = newService(n)
	}
	ctx := context.Background()
	if *redisAddr != "" {
		c := redis.NewClient(&redis.Options{Addr: *redisAddr})
		defer c.Close()
		l, err := saga.NewRedisLog(c, saga.WithPrefix("demo:saga:"), saga.WithRetention(time.Hour))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		d.log, d.lease = l, 3*time.Second
	} else {
		if *exit || *onlyRecover {
			fmt.Fprintln(os.Stderr, "-exit and -recover need -redis: a memory log dies with its process")
			os.Exit(2)
		}
		d.clock = &clock{t: time.Now()}
		l, _ := saga.NewMemoryLog(saga.WithClock(d.clock.Now))
		d.log = l
	}
	if *onlyRecover {
		fmt.Println("== recovering sagas left by crashed processes")
		fmt.Println("   (the demo's services live in each process's memory: this process's copies know nothing of")
		fmt.Println("   what the crashed one did, where real services would find it under the same keys)")
		d.recoverOnce(ctx, *id)
		return
	}
	orderID := func(def string) string {
		if *id != "" {
			return *id
		}
		return fmt.Sprintf("%s-%d", def, time.Now().UnixNano()%100000)
	}

	if *fail != "" || *crashAfter >= 0 || *redisAddr != "" {
		fmt.Printf("== order saga (fail=%q, crash-after=%d, recovery=%s)\n", *fail, *crashAfter, d.recovery)
		d.run(ctx, orderID("o"), *fail, *crashAfter, *exit)
		return
	}
	fmt.Println("== 1. an order that completes")
	d.run(ctx, "o-1", "", -1, false)
	fmt.Println()
	fmt.Println("== 2. the payment is declined: the reservation is released")
	d.run(ctx, "o-2", "charge-payment", -1, false)
	fmt.Println()
	fmt.Println("== 3. the process crashes after charging, before logging it; another process recovers (roll back)")
	d.run(ctx, "o-3", "", 2, false)
	fmt.Println()
	fmt.Println("== 4. the same crash, recovered with RollForward: the charge is retried under its key, then the order completes")
	d.recovery = saga.RollForward
	d.run(ctx, "o-4", "", 2, false)
}
