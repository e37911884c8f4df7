package saga

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/clocktest"
	"github.com/sysdesign/patterns/internal/redistest"
)

// fakeClock is the tests' manual clock.
type fakeClock = clocktest.Clock

func newFakeClock() *fakeClock { return clocktest.New() }

// ledger stands for the outside world the steps change: side effects keyed
// by idempotency key, as a payment or inventory service would keep them.
// An undo leaves a tombstone, so a late duplicate "do" of an undone key is
// a no-op, as it must be for a real service.
type ledger struct {
	mu      sync.Mutex
	state   map[string]int // 0 none, 1 done, 2 undone (tombstone)
	applied map[string]int // times the effect really took place
	undone  map[string]int // times it was really undone
	calls   int            // calls of any action or compensation
}

func newLedger() *ledger {
	return &ledger{state: map[string]int{}, applied: map[string]int{}, undone: map[string]int{}}
}

func (l *ledger) do(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.state[key] == 0 {
		l.state[key] = 1
		l.applied[key]++
	}
}

func (l *ledger) undo(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.state[key] == 1 {
		l.undone[key]++
	}
	l.state[key] = 2
}

func (l *ledger) callCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

// checkExactlyOnce asserts that every step's effect is done exactly once
// (completed) or was undone exactly once if it happened (compensated).
func (l *ledger) checkExactlyOnce(t *testing.T, keys []string, st Status) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		switch st {
		case Completed:
			if l.state[k] != 1 || l.applied[k] != 1 || l.undone[k] != 0 {
				t.Errorf("%s: completed saga, but effect state %d applied %d undone %d", k, l.state[k], l.applied[k], l.undone[k])
			}
		case Compensated:
			if l.state[k] == 1 || l.applied[k] > 1 || l.applied[k] != l.undone[k] {
				t.Errorf("%s: compensated saga, but effect state %d applied %d undone %d", k, l.state[k], l.applied[k], l.undone[k])
			}
		default:
			t.Errorf("unexpected status %s", st)
		}
	}
}

// order is the test saga's data.
type order struct {
	ID          string
	Amount      int
	Reservation string
	Charge      string
	Shipment    string
}

var errInjected = errors.New("injected failure")

// rig builds the test order saga's steps over a ledger, with failures on
// demand.
type rig struct {
	l *ledger
	// failAction makes a step's action fail (with no effect) every time.
	failAction string
	// actionFailures makes a step's action fail this many times first.
	actionFailures map[string]int
	// compFailures makes a step's compensation fail this many times first
	// (-1: always).
	compFailures map[string]int
	mu           sync.Mutex
	noCompensate string
}

var stepNames = []string{"reserve", "charge", "ship"}

func (g *rig) steps() []Step[order] {
	mk := func(name string, record func(o *order, v string)) Step[order] {
		st := Step[order]{Name: name}
		st.Action = func(ctx context.Context, o *order) error {
			g.mu.Lock()
			if n := g.actionFailures[name]; n > 0 {
				g.actionFailures[name] = n - 1
				g.mu.Unlock()
				return fmt.Errorf("%s: transient: %w", name, errInjected)
			}
			g.mu.Unlock()
			if g.failAction == name {
				return Permanent(fmt.Errorf("%s: %w", name, errInjected))
			}
			k := StepKey(ctx)
			g.l.do(k)
			record(o, k)
			return nil
		}
		if name != g.noCompensate {
			st.Compensate = func(ctx context.Context, o *order) error {
				g.mu.Lock()
				if n := g.compFailures[name]; n != 0 {
					if n > 0 {
						g.compFailures[name] = n - 1
					}
					g.mu.Unlock()
					return fmt.Errorf("undo %s: %w", name, errInjected)
				}
				g.mu.Unlock()
				g.l.undo(StepKey(ctx)) // by key, not by *o: o may predate the action
				record(o, "")
				return nil
			}
		}
		return st
	}
	return []Step[order]{
		mk("reserve", func(o *order, v string) { o.Reservation = v }),
		mk("charge", func(o *order, v string) { o.Charge = v }),
		mk("ship", func(o *order, v string) { o.Shipment = v }),
	}
}

func newRig() *rig {
	return &rig{l: newLedger(), actionFailures: map[string]int{}, compFailures: map[string]int{}}
}

func keysFor(sagaName, id string) []string {
	ks := make([]string, len(stepNames))
	for i, n := range stepNames {
		ks[i] = sagaName + "/" + id + "/" + n
	}
	return ks
}

// fastPolicies keeps retries quick in tests.
var fastPolicies = []Option{
	WithActionPolicy(Policy{Backoff: time.Microsecond, MaxBackoff: 10 * time.Microsecond}),
	WithCompensationPolicy(Policy{Backoff: time.Microsecond, MaxBackoff: 10 * time.Microsecond}),
}

func mustNew[T any](t testing.TB, name string, steps []Step[T], opts ...Option) *Saga[T] {
	t.Helper()
	s, err := New(name, steps, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// eachLog runs fn for the memory log and for the Redis log on every
// configured Redis target.
func eachLog(t *testing.T, fn func(t *testing.T, newLog func() Log, clock *fakeClock, tg *redistest.Target)) {
	t.Run("memory", func(t *testing.T) {
		clock := newFakeClock()
		ml, err := NewMemoryLog(WithClock(clock.Now), WithRetention(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		fn(t, func() Log { return ml }, clock, nil)
	})
	t.Run("redis", func(t *testing.T) {
		redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
			clock := newFakeClock()
			first := true
			newLog := func() Log {
				c := tg.Client
				if !first {
					c, _ = tg.NewClient()
				}
				first = false
				rl, err := NewRedisLog(c, WithPrefix(tg.Prefix), WithRetention(time.Hour), WithShards(4))
				if err != nil {
					t.Fatal(err)
				}
				rl.testNow = clock.Now
				return rl
			}
			fn(t, newLog, clock, tg)
		})
	})
}

// crashLog is a Log whose process "dies" at its at-th write (Claim with
// entries, or Append): that write is lost (or, with after, done) and every
// call after it fails, as if the process had stopped there.
type crashLog struct {
	Log
	mu      sync.Mutex
	writes  int
	at      int
	after   bool
	crashed bool
}

var errCrash = errors.New("process crashed")

func (c *crashLog) write(do func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed {
		return errCrash
	}
	n := c.writes
	c.writes++
	if n == c.at {
		c.crashed = true
		if c.after {
			_ = do()
		}
		return errCrash
	}
	return do()
}

func (c *crashLog) Claim(ctx context.Context, saga, id string, lease time.Duration, entries []Entry) (cl Claim, err error) {
	err = c.write(func() error { cl, err = c.Log.Claim(ctx, saga, id, lease, entries); return err })
	return cl, err
}

func (c *crashLog) Append(ctx context.Context, saga, id string, token int64, lease time.Duration, entries []Entry) error {
	return c.write(func() error { return c.Log.Append(ctx, saga, id, token, lease, entries) })
}

func (c *crashLog) Renew(ctx context.Context, saga, id string, token int64, lease time.Duration) error {
	c.mu.Lock()
	crashed := c.crashed
	c.mu.Unlock()
	if crashed {
		return errCrash
	}
	return c.Log.Renew(ctx, saga, id, token, lease)
}

func (c *crashLog) didCrash() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}
