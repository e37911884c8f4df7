package saga

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// clientKinds are the two kinds of go-redis client a bound must hold on,
// each with a key prefix of its own (under a test's prefix).
func clientKinds() map[string]struct {
	prefix string
	opts   []redistest.ClientOption
} {
	return map[string]struct {
		prefix string
		opts   []redistest.ClientOption
	}{
		"default client":        {"plain:", nil},
		"ContextTimeoutEnabled": {"ctxto:", []redistest.ClientOption{redistest.WithContextTimeouts()}},
	}
}

// logCalls runs every RedisLog call once, each timed; the saga "b" with
// id "held" must be running, held with token 1.
func logCalls(l *RedisLog) map[string]func(ctx context.Context) error {
	started := []Entry{{Kind: Started, Step: -1, Data: []byte("{}")}}
	return map[string]func(ctx context.Context) error{
		"Claim": func(ctx context.Context) error {
			_, err := l.Claim(ctx, "b", "fresh", time.Minute, started)
			return err
		},
		"Append": func(ctx context.Context) error {
			return l.Append(ctx, "b", "held", 1, time.Minute, []Entry{{Kind: StepBegun, StepName: "s", Data: []byte("{}")}})
		},
		"Renew": func(ctx context.Context) error { return l.Renew(ctx, "b", "held", 1, time.Minute) },
		"Load": func(ctx context.Context) error {
			_, err := l.Load(ctx, "b", "held")
			return err
		},
		"Abandoned": func(ctx context.Context) error {
			_, err := l.Abandoned(ctx, "b", 10)
			return err
		},
	}
}

// Every RedisLog call on a hung connection returns by WithTimeout, or by
// the caller's sooner deadline, on clients with and without
// ContextTimeoutEnabled (the client's own read timeout is 1s), with an
// error that is context.DeadlineExceeded; and Execute stops as soon.
func TestRedisLogCallsReturnByTheBound(t *testing.T) {
	const bound = 100 * time.Millisecond
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, kind := range clientKinds() {
			t.Run(name, func(t *testing.T) {
				c, faults := tg.NewClient(kind.opts...)
				l, err := NewRedisLog(c, WithPrefix(tg.Prefix+kind.prefix), WithTimeout(bound), WithShards(2))
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()
				// The setup goes through a log with the default timeout: on a
				// loaded machine a healthy cluster can take longer than the
				// bound under test, which is about a hung one.
				setup, err := NewRedisLog(c, WithPrefix(tg.Prefix+kind.prefix), WithShards(2))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := setup.Claim(ctx, "b", "held", time.Minute, []Entry{{Kind: Started, Step: -1, Data: []byte("{}")}}); err != nil {
					t.Fatal(err)
				}
				s := mustNew(t, "b", []Step[order]{{Name: "s", Action: noop}}, WithLog(l))
				faults.Hang()
				defer faults.Heal()
				// All at once, each on a connection of its own: the bound
				// holds for every caller, not only the first.
				var wg sync.WaitGroup
				timed := func(what string, bound time.Duration, call func() error) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						probe := redistest.StartWakeProbe()
						start := time.Now()
						err := call()
						elapsed := time.Since(start)
						_, wake := probe.Stop()
						assertBounded(t, what, elapsed, wake, bound, err)
					}()
				}
				for name, call := range logCalls(l) {
					timed(name, bound, func() error { return call(ctx) })
					timed(name+" with a 30ms ctx", 30*time.Millisecond, func() error {
						short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
						defer cancel()
						return call(short)
					})
				}
				timed("Execute", bound, func() error {
					res, err := s.Execute(ctx, "new", order{})
					if res != nil {
						t.Errorf("Execute with a hung log returned a result: %+v", res)
					}
					return err
				})
				wg.Wait()
			})
		}
	})
}

// maxWakeExcuse caps what the machine's wake-up delays may excuse: well
// below the client's 1s read timeout, which a call ignoring its bound
// would wait for (or, hung, for ever), so such a call fails however
// loaded the machine; a bounded call overruns by the delays, which at
// load 8-25 on two cores (-race, calls all at once) reached 200ms.
const maxWakeExcuse = 500 * time.Millisecond

// assertBounded fails a call that took longer than its bound plus
// redistest.Slack plus how late, in all, the machine woke a sleeping
// goroutine while it ran (wake, from a redistest.WakeProbe, capped at
// maxWakeExcuse): the bound's own timer, and each step of the call after
// it, wait as long for the CPU. A call must also end with
// context.DeadlineExceeded.
func assertBounded(t *testing.T, what string, elapsed, wake, bound time.Duration, err error) {
	t.Helper()
	if excuse := min(wake, maxWakeExcuse); elapsed > bound+redistest.Slack+excuse {
		t.Errorf("%s took %v, bound %v + %v + wake-up delay %v (measured %v)", what, elapsed, bound, redistest.Slack, excuse, wake)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s: err = %v, want context.DeadlineExceeded", what, err)
	}
}
