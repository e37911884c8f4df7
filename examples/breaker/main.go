// Command breaker shows a circuit breaker in front of a flaky dependency
// that works, fails, recovers and fails again: it prints the breaker's
// state timeline, a strip of what every call got, and the metrics.
//
//	go run ./examples/breaker                   # in memory, on a simulated clock: instant and repeatable
//	go run ./examples/breaker -redis localhost:6379   # two breakers, two goroutines, one shared circuit, real time (~4s)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/breaker"
)

// The dependency's script: it works, fails, recovers and fails again.
var phases = []struct {
	until time.Duration
	fails bool
}{
	{800 * time.Millisecond, false},
	{1800 * time.Millisecond, true},
	{2600 * time.Millisecond, false},
	{3000 * time.Millisecond, true},
	{3800 * time.Millisecond, false},
}

const (
	tick = 10 * time.Millisecond  // one call per tick per caller
	cell = 100 * time.Millisecond // one character of the strip
)

var errUnavailable = errors.New("503 service unavailable")

// dependency fails or not by the script, on the given clock.
type dependency struct {
	start time.Time
	now   func() time.Time
}

func (d dependency) call(context.Context) error {
	at := d.now().Sub(d.start)
	for _, p := range phases {
		if at < p.until {
			if p.fails {
				return errUnavailable
			}
			return nil
		}
	}
	return nil
}

// simClock is a clock that the loop moves forward, one tick per call.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// caller is one breaker and what its calls got.
type caller struct {
	label string
	b     *breaker.Breaker
	cells [][3]int // per cell of the strip: calls that succeeded, failed, were refused
	once  sync.Once
	first string // the first refusal's message
}

func (c *caller) record(at time.Duration, err error) {
	i := int(at / cell)
	for len(c.cells) <= i {
		c.cells = append(c.cells, [3]int{})
	}
	switch {
	case errors.Is(err, breaker.ErrOpen), errors.Is(err, breaker.ErrTooManyCalls):
		c.cells[i][2]++
		c.once.Do(func() { c.first = err.Error() })
	case err != nil:
		c.cells[i][1]++
	default:
		c.cells[i][0]++
	}
}

func (c *caller) render() string {
	var sb strings.Builder
	for _, n := range c.cells {
		switch {
		case n[1] > 0:
			sb.WriteByte('x')
		case n[2] > 0 && n[0] == 0:
			sb.WriteByte('-')
		case n[2] > 0:
			sb.WriteByte('+')
		default:
			sb.WriteByte('.')
		}
	}
	return sb.String()
}

func main() {
	addr := flag.String("redis", "", "Redis address: run two breakers sharing one circuit through it")
	flag.Parse()
	log.SetFlags(0)
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

func run(addr string) error {
	ctx := context.Background()
	cfg := breaker.Config{
		Name:             "payments",
		FailureThreshold: 5,
		OpenTimeout:      300 * time.Millisecond,
		HalfOpenMaxCalls: 2,
	}
	var (
		mu      sync.Mutex
		elapsed func() time.Duration
	)
	// observe prints what an operator would alert on: state changes, and
	// a shared store going away or coming back (refusals are in the strip).
	observe := func(label string) func(breaker.Event) {
		return func(e breaker.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e.Kind {
			case breaker.EventStateChange:
				fmt.Printf("  %6.3fs  %s %-8s %-9s -> %s\n", elapsed().Seconds(), label, e.Name, e.From, e.To)
			case breaker.EventDetached, breaker.EventRejoined:
				fmt.Printf("  %6.3fs  %s %-8s %s (%v)\n", elapsed().Seconds(), label, e.Name, e.Kind, e.Err)
			}
		}
	}
	total := phases[len(phases)-1].until

	if addr == "" {
		fmt.Println("breaker demo: in memory, simulated clock (use -redis addr for a shared circuit)")
		clk := &simClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
		start := clk.Now()
		elapsed = func() time.Duration { return clk.Now().Sub(start) }
		dep := dependency{start: start, now: clk.Now}
		c := &caller{label: "A"}
		cfg.Clock, cfg.Observer = clk.Now, observe(c.label)
		b, err := breaker.New(cfg)
		if err != nil {
			return err
		}
		c.b = b
		printHeader()
		for at := time.Duration(0); at < total; at += tick {
			c.record(at, b.Execute(ctx, dep.call))
			clk.Advance(tick)
		}
		report(c)
		return nil
	}

	fmt.Printf("breaker demo: two breakers sharing one circuit through Redis at %s, real time\n", addr)
	start := time.Now()
	elapsed = func() time.Duration { return time.Since(start) }
	dep := dependency{start: start, now: time.Now}
	prefix := fmt.Sprintf("demo:breaker:%d:", os.Getpid())
	var callers []*caller
	for _, label := range []string{"A", "B"} {
		rdb := redis.NewClient(&redis.Options{Addr: addr}) // one client each, like two processes
		defer rdb.Close()
		if err := rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis %s: %w", addr, err)
		}
		store, err := breaker.NewRedisStore(rdb, breaker.WithPrefix(prefix))
		if err != nil {
			return err
		}
		defer store.Close()
		c := &caller{label: label}
		cfg.Store, cfg.Observer = store, observe(label)
		if c.b, err = breaker.New(cfg); err != nil {
			return err
		}
		callers = append(callers, c)
	}
	printHeader()
	var wg sync.WaitGroup
	for i, c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A calls and B calls, interleaved, each every tick; only A's
			// calls meet the dependency's failures first-hand half the time.
			next := start.Add(time.Duration(i) * tick / 2)
			for {
				time.Sleep(time.Until(next))
				at := time.Since(start)
				if at >= total {
					return
				}
				c.record(at, c.b.Execute(ctx, dep.call))
				next = next.Add(tick)
			}
		}()
	}
	wg.Wait()
	report(callers...)
	return nil
}

func printHeader() {
	fmt.Println()
	fmt.Println("dependency script: ok until 0.8s, failing until 1.8s, ok until 2.6s, failing until 3.0s, ok until 3.8s")
	fmt.Println("state changes:")
}

func report(callers ...*caller) {
	var dep strings.Builder
	for at := time.Duration(0); at < phases[len(phases)-1].until; at += cell {
		for _, p := range phases {
			if at < p.until {
				dep.WriteByte(map[bool]byte{false: '.', true: 'x'}[p.fails])
				break
			}
		}
	}
	fmt.Printf("\nevery %s (. ok, x failures, - refused, + some refused):\n", cell)
	fmt.Printf("  dependency  %s\n", dep.String())
	for _, c := range callers {
		fmt.Printf("  breaker %s   %s\n", c.label, c.render())
	}
	for _, c := range callers {
		m := c.b.Metrics()
		fmt.Printf("\nbreaker %s metrics: state=%s calls=%d successes=%d failures=%d rejections=%d transitions=%d\n",
			c.label, m.State, m.Calls, m.Successes, m.Failures, m.Rejections, m.Transitions)
		if c.first != "" {
			fmt.Printf("  first refusal: %s\n", c.first)
		}
	}
}
