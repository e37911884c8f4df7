// Command pubsub demonstrates the pubsub package with an order flow:
// "orders.created" goes to an e-mail sender, "orders.*" to analytics and
// "#" to an audit log. The e-mail sender fails once for one order (it is
// retried) and always for another (it ends in the dead-letter topic, which
// the audit log sees too).
//
//	go run ./examples/pubsub                        # in memory
//	go run ./examples/pubsub -redis localhost:6379  # durable, on Redis Streams
//
// With -redis the e-mail sender's group is bound first and its consumer
// stopped, so the orders are published while it is down; they wait in
// Redis and are delivered when it starts.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/pubsub"
)

func main() {
	addr := flag.String("redis", "", "Redis address: run the durable bus there")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "pubsub:", err)
		os.Exit(1)
	}
}

type logger struct {
	mu    sync.Mutex
	start time.Time
}

func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Printf("%6.0fms  ", float64(time.Since(l.start).Microseconds())/1000)
	fmt.Printf(format+"\n", args...)
}

func run(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := []pubsub.Option{pubsub.WithBackoff(50*time.Millisecond, 200*time.Millisecond), pubsub.WithMaxAttempts(3)}

	var newBus func() (pubsub.Bus, error)
	var cleanup func()
	if addr == "" {
		fmt.Println("in-memory bus")
		bus := pubsub.NewMemory(opts...)
		newBus = func() (pubsub.Bus, error) { return bus, bus.ConfigErr() }
		cleanup = func() { _ = bus.Close() }
	} else {
		fmt.Println("Redis bus at", addr)
		client := redis.NewClient(&redis.Options{Addr: addr})
		defer client.Close()
		ns := "pubsub-demo"
		opts = append(opts, pubsub.WithNamespace(ns), pubsub.WithReadBlock(100*time.Millisecond))
		var buses []*pubsub.Redis
		newBus = func() (pubsub.Bus, error) {
			b, err := pubsub.NewRedis(client, opts...)
			buses = append(buses, b)
			return b, err
		}
		cleanup = func() {
			for _, b := range buses {
				_ = b.Close()
			}
			if len(buses) > 0 { // the demo's durable groups go with it
				_ = buses[0].DeleteGroup(context.Background(), "email")
				_ = buses[0].DeleteGroup(context.Background(), "analytics")
			}
		}
	}
	defer cleanup()
	bus, err := newBus()
	if err != nil {
		return err
	}
	log := &logger{start: time.Now()}
	var wg sync.WaitGroup
	wg.Add(2 + 4 + 5 + 1) // e-mails sent, analytics, audit entries, dead letters
	ok := func(err error) error {
		if err == nil {
			wg.Done()
		}
		return err
	}

	email := func(_ context.Context, m *pubsub.Message) error {
		switch order := string(m.Payload); {
		case order == "o-2" && m.Attempt == 1:
			log.printf("email      %s attempt %d: SMTP timeout, will retry", order, m.Attempt)
			return errors.New("smtp: timeout")
		case order == "o-3":
			log.printf("email      %s attempt %d: mailbox does not exist", order, m.Attempt)
			return errors.New("smtp: 550 mailbox unavailable")
		default:
			log.printf("email      %s attempt %d: sent", order, m.Attempt)
			return ok(nil)
		}
	}
	if addr != "" {
		// Bind the durable group, then stop its only consumer.
		down, err := newBus()
		if err != nil {
			return err
		}
		if _, err := down.Subscribe(ctx, "orders.created", email, pubsub.WithGroup("email")); err != nil {
			return err
		}
		if err := down.Close(); err != nil {
			return err
		}
		log.printf("email      sender is down; its group keeps collecting orders")
	} else if _, err := bus.Subscribe(ctx, "orders.created", email, pubsub.WithGroup("email")); err != nil {
		return err
	}
	if _, err := bus.Subscribe(ctx, "orders.*", func(_ context.Context, m *pubsub.Message) error {
		log.printf("analytics  %s %s", m.Topic, m.Payload)
		return ok(nil)
	}, pubsub.WithGroup("analytics")); err != nil {
		return err
	}
	if _, err := bus.Subscribe(ctx, "#", func(_ context.Context, m *pubsub.Message) error {
		log.printf("audit      %s %s", m.Topic, m.Payload)
		return ok(nil)
	}); err != nil {
		return err
	}
	if _, err := bus.Subscribe(ctx, pubsub.DefaultDeadTopic, func(_ context.Context, m *pubsub.Message) error {
		log.printf("DEAD       %s from %s after %s attempts in %s: %s", m.Payload, m.Metadata[pubsub.MetaDeadTopic],
			m.Metadata[pubsub.MetaDeadAttempts], m.Metadata[pubsub.MetaDeadGroup], m.Metadata[pubsub.MetaDeadReason])
		return ok(nil)
	}); err != nil {
		return err
	}

	for _, p := range []struct{ topic, order string }{
		{"orders.created", "o-1"}, {"orders.created", "o-2"}, {"orders.created", "o-3"}, {"orders.paid", "o-1"},
	} {
		if err := bus.Publish(ctx, p.topic, []byte(p.order)); err != nil {
			return err
		}
		log.printf("published  %s %s", p.topic, p.order)
	}
	if addr != "" {
		up, err := newBus()
		if err != nil {
			return err
		}
		log.printf("email      sender is back")
		if _, err := up.Subscribe(ctx, "orders.created", email, pubsub.WithGroup("email")); err != nil {
			return err
		}
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.New("timed out waiting for deliveries")
	}
	log.printf("done: every order e-mailed, counted and audited; o-3 dead-lettered")
	return nil
}
