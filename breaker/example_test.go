package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/breaker"
)

var errUnavailable = errors.New("unavailable")

func Example() {
	b, err := breaker.New(breaker.Config{Name: "payments", FailureThreshold: 3})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	charge := func(context.Context) error { return errUnavailable }
	for i := 1; i <= 4; i++ {
		err := b.Execute(ctx, charge)
		var open *breaker.OpenError
		if errors.As(err, &open) { // errors.Is(err, breaker.ErrOpen) holds too
			fmt.Printf("call %d: refused, next probe in %s (state %s)\n", i, open.RetryAfter().Round(time.Second), b.State())
			continue
		}
		fmt.Printf("call %d: %v (state %s)\n", i, err, b.State())
	}
	// Output:
	// call 1: unavailable (state closed)
	// call 2: unavailable (state closed)
	// call 3: unavailable (state open)
	// call 4: refused, next probe in 30s (state open)
}

func ExampleDo() {
	b, _ := breaker.New(breaker.Config{Name: "quotes"})
	price, err := breaker.Do(context.Background(), b, func(context.Context) (float64, error) {
		return 9.99, nil
	})
	fmt.Println(price, err)
	// Output: 9.99 <nil>
}

func ExampleOpenError() {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b, _ := breaker.New(breaker.Config{Name: "search", FailureThreshold: 1, OpenTimeout: 10 * time.Second, Clock: clock})
	_ = b.Execute(context.Background(), func(context.Context) error { return errUnavailable })

	now = now.Add(4 * time.Second)
	err := b.Execute(context.Background(), func(context.Context) error { return nil })
	var oe *breaker.OpenError
	if errors.As(err, &oe) {
		// e.g. answer 503 with a Retry-After header
		fmt.Println("open; retry in", oe.RetryAfter())
	}
	// Output: open; retry in 6s
}

func ExampleConfig_rates() {
	// Trip at 50% failures or 50% calls slower than 200ms among the last
	// 20 calls, judged once 10 calls are in.
	b, err := breaker.New(breaker.Config{
		Name:                  "inventory",
		FailureRateThreshold:  0.5,
		SlowCallRateThreshold: 0.5,
		SlowCallDuration:      200 * time.Millisecond,
		WindowSize:            20,
		MinimumCalls:          10,
	})
	if err != nil {
		panic(err)
	}
	for i := range 10 {
		_ = b.Execute(context.Background(), func(context.Context) error {
			if i%2 == 0 {
				return errUnavailable
			}
			return nil
		})
	}
	m := b.Metrics()
	fmt.Printf("%s after %d calls, failure rate %.0f%%\n", m.State, m.Calls, 100*m.FailureRate)
	// Output: open after 10 calls, failure rate 50%
}

func ExampleConfig_observer() {
	clk := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) // a fixed clock keeps the output stable
	now := func() time.Time { return clk }
	b, _ := breaker.New(breaker.Config{
		Name:             "mail",
		FailureThreshold: 1,
		Clock:            now,
		Observer: func(e breaker.Event) { // keep it quick: it runs on the caller's goroutine
			switch e.Kind {
			case breaker.EventStateChange:
				fmt.Printf("%s: %s -> %s\n", e.Name, e.From, e.To)
			case breaker.EventRejected:
				fmt.Printf("%s: %s: %v\n", e.Name, e.Kind, e.Err)
			}
		},
	})
	ctx := context.Background()
	_ = b.Execute(ctx, func(context.Context) error { return errUnavailable })
	_ = b.Execute(ctx, func(context.Context) error { return nil })
	clk = clk.Add(breaker.DefaultOpenTimeout)
	fmt.Println(b.State()) // half-open on time, without waiting for a call
	// Output:
	// mail: closed -> open
	// mail: rejected: breaker "mail": circuit open, next probe in 30s
	// mail: open -> half-open
	// half-open
}

func ExampleMiddleware() {
	b, _ := breaker.New(breaker.Config{Name: "quotes", FailureThreshold: 1})
	quotes := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "quote service down", http.StatusBadGateway) // a 5xx counts as a failure
	})
	h := breaker.Middleware(b)(quotes)
	for range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/quote", nil))
		fmt.Printf("%d Retry-After=%q\n", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Output:
	// 502 Retry-After=""
	// 503 Retry-After="30"
}

func ExampleWriteRefusal() {
	b, _ := breaker.New(breaker.Config{Name: "inventory", FailureThreshold: 1, OpenTimeout: 1500 * time.Millisecond})
	_ = b.Execute(context.Background(), func(context.Context) error { return errUnavailable })
	handler := func(w http.ResponseWriter, r *http.Request) {
		err := b.Execute(r.Context(), func(context.Context) error { return nil /* call inventory */ })
		if breaker.WriteRefusal(w, err) { // 503 with Retry-After, rounded up to whole seconds
			return
		}
		// … answer from the inventory's reply, or its error
	}
	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequest(http.MethodGet, "/stock", nil))
	fmt.Println(rec.Code, rec.Header().Get("Retry-After"))
	// Output: 503 2
}

func ExampleRoundTripper() {
	b, _ := breaker.New(breaker.Config{Name: "api.example.com"})
	client := &http.Client{Transport: breaker.RoundTripper(b, nil), Timeout: 5 * time.Second}
	_ = client // 5xx responses and transport errors now count as failures
	// Output:
}

func ExampleNewRedisStore() {
	mr, err := miniredis.Run() // a real service passes its own Redis client
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rdb.Close()

	store, err := breaker.NewRedisStore(rdb, breaker.WithPrefix("myservice:breaker:"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	// Two breakers with one Name share one circuit, as two processes would.
	b1, _ := breaker.New(breaker.Config{Name: "payments", FailureThreshold: 2, Store: store})
	b2, _ := breaker.New(breaker.Config{Name: "payments", FailureThreshold: 2, Store: store, OpenTimeout: time.Minute})

	ctx := context.Background()
	_ = b2.Execute(ctx, func(context.Context) error { return nil })
	for range 2 {
		_ = b1.Execute(ctx, func(context.Context) error { return errUnavailable })
	}
	for b2.State() != breaker.Open { // the trip is pushed to b2
		time.Sleep(time.Millisecond)
	}
	err = b2.Execute(ctx, func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, breaker.ErrOpen))
	// Output: true
}
