// Command pubsub demonstrates the pubsub package with an order flow:
// "orders.created" goes to an e-mail sender, "orders.*" to analytics and
// "#" to an audit log. The e-mail sender fails once for one order (it is
// retried) and always for another (it ends in the dead-letter topic, which
// the audit log sees too).
//
//	go run ./examples/pubsub                        # in memory
//	go run ./examples/pubsub -redis localhost:6379  # durable, on Redis Streams
//
// With -redis the e-mail sender's group is declared before it starts
// (DeclareGroup), so the orders are published while no sender runs; they
// wait in Redis and are delivered when it starts. The bus logs retries
// and dead letters to stderr (WithLogger), and the demo ends with the
// bus's Stats.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
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
	slogger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	retry := []pubsub.DeliveryOption{pubsub.WithBackoff(50*time.Millisecond, 200*time.Millisecond), pubsub.WithMaxAttempts(3)}

	var bus pubsub.Bus
	var declarer pubsub.GroupDeclarer
	var cleanup func()
	if addr == "" {
		fmt.Println("in-memory bus")
		opts := []pubsub.MemoryOption{pubsub.WithLogger(slogger)}
		for _, o := range retry {
			opts = append(opts, o)
		}
		mem := pubsub.NewMemory(opts...)
		if err := mem.ConfigErr(); err != nil {
			return err
		}
		bus, declarer = mem, mem
		cleanup = func() { _ = mem.Close() }
	} else {
		fmt.Println("Redis bus at", addr)
		client := redis.NewClient(&redis.Options{Addr: addr})
		defer client.Close()
		opts := []pubsub.RedisOption{pubsub.WithLogger(slogger), pubsub.WithNamespace("pubsub-demo"),
			pubsub.WithReadBlock(100 * time.Millisecond)}
		for _, o := range retry {
			opts = append(opts, o)
		}
		rb, err := pubsub.NewRedis(client, opts...)
		if err != nil {
			return err
		}
		bus, declarer = rb, rb
		cleanup = func() {
			_ = rb.Close()
			// The demo's durable groups go with it.
			_ = rb.DeleteGroup(context.Background(), "email")
			_ = rb.DeleteGroup(context.Background(), "analytics")
		}
	}
	defer cleanup()
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
	// The e-mail sender's group exists before the sender starts: what is
	// published meanwhile waits for it.
	if err := declarer.DeclareGroup(ctx, "email", "orders.created"); err != nil {
		return err
	}
	log.printf("email      group declared; the sender is not running yet")
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
	log.printf("email      sender starts")
	if _, err := bus.Subscribe(ctx, "orders.created", email, pubsub.WithGroup("email")); err != nil {
		return err
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return errors.New("timed out waiting for deliveries")
	}
	log.printf("done: every order e-mailed, counted and audited; o-3 dead-lettered")
	st := bus.Stats()
	log.printf("stats: published %d, delivered %d, retried %d, dead-lettered %d",
		st.Published, st.Delivered, st.Retried, st.DeadLettered)
	return nil
}
