package cqrs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// clientKind is a kind of go-redis client a bound must hold on, with a
// key prefix of its own under a test's prefix.
type clientKind struct {
	prefix string
	opts   []redistest.ClientOption
}

func clientKinds() map[string]clientKind {
	return map[string]clientKind{
		"default client":        {"plain:", nil},
		"ContextTimeoutEnabled": {"ctxto:", []redistest.ClientOption{redistest.WithContextTimeouts()}},
	}
}

// redisTypes are the Redis-backed types of the package on one client.
type redisTypes struct {
	store *RedisStore
	snaps *RedisSnapshotStore
	cps   *RedisCheckpointStore
	model *RedisReadModel[int]
}

func newRedisTypes(t testing.TB, c redis.UniversalClient, prefix string, opts ...RedisOption) redisTypes {
	t.Helper()
	var r redisTypes
	var err error
	with := append([]RedisOption{WithPrefix(prefix)}, opts...)
	if r.store, err = NewRedisStore(c, append(asOptions[Option](with), WithBlock(20*time.Millisecond))...); err != nil {
		t.Fatal(err)
	}
	if r.snaps, err = NewRedisSnapshotStore(c, asOptions[SnapshotStoreOption](with)...); err != nil {
		t.Fatal(err)
	}
	if r.cps, err = NewRedisCheckpointStore(c, asOptions[CheckpointStoreOption](with)...); err != nil {
		t.Fatal(err)
	}
	if r.model, err = NewRedisReadModel(c, "balances", balances, asOptions[ReadModelOption](with)...); err != nil {
		t.Fatal(err)
	}
	return r
}

// asOptions hands options that fit every Redis type to one constructor.
func asOptions[O any](opts []RedisOption) []O {
	out := make([]O, len(opts))
	for i, o := range opts {
		out[i] = o.(O)
	}
	return out
}

// boundedCall is one call of a Redis-backed type and the bound it must
// return by on a Redis that does not answer.
type boundedCall struct {
	name  string
	bound time.Duration
	call  func(ctx context.Context) error
}

// calls lists every Redis call of the package's Redis-backed types.
func (r redisTypes) calls(timeout time.Duration) []boundedCall {
	two := []Event{deposited(1).WithID("a"), deposited(2).WithID("b")}
	snap := Snapshot{StreamID: "s", Version: 1, Schema: 1, Data: []byte(`{}`)}
	applied := []Event{deposited(1)}
	applied[0].StreamID, applied[0].Position, applied[0].Version = "s", 1, 1
	ignore := func(_ any, err error) error { return err }
	return []boundedCall{
		{"Append", timeout, func(ctx context.Context) error { return ignore(r.store.Append(ctx, "s", AnyVersion, two...)) }},
		{"Load", timeout, func(ctx context.Context) error { return ignore(r.store.Load(ctx, "s", 1)) }},
		{"ReadAll", timeout, func(ctx context.Context) error { return ignore(r.store.ReadAll(ctx, 1, 10)) }},
		{"Head", timeout, func(ctx context.Context) error { return ignore(r.store.Head(ctx)) }},
		// Wait blocks for its interval (20ms here) before the bound starts.
		{"Wait", 20*time.Millisecond + timeout, func(ctx context.Context) error { return r.store.Wait(ctx, 1<<40) }},
		{"SaveSnapshot", timeout, func(ctx context.Context) error { return r.snaps.SaveSnapshot(ctx, snap) }},
		{"LoadSnapshot", timeout, func(ctx context.Context) error { _, _, err := r.snaps.LoadSnapshot(ctx, "s"); return err }},
		{"LoadCheckpoint", timeout, func(ctx context.Context) error { return ignore(r.cps.LoadCheckpoint(ctx, "p")) }},
		{"SaveCheckpoint", timeout, func(ctx context.Context) error { return r.cps.SaveCheckpoint(ctx, "p", 1) }},
		{"DeleteCheckpoint", timeout, func(ctx context.Context) error { return r.cps.DeleteCheckpoint(ctx, "p") }},
		{"model Checkpoint", timeout, func(ctx context.Context) error { return ignore(r.model.Checkpoint(ctx)) }},
		{"model Get", timeout, func(ctx context.Context) error { _, _, err := r.model.Get(ctx, "s"); return err }},
		{"model All", timeout, func(ctx context.Context) error { return ignore(r.model.All(ctx)) }},
		{"model Apply", timeout, func(ctx context.Context) error { return r.model.Apply(ctx, applied) }},
		{"model NewBuild", timeout, func(ctx context.Context) error { return ignore(r.model.NewBuild(ctx)) }},
		{"model Drop", timeout, func(ctx context.Context) error { return r.model.Drop(ctx) }},
	}
}

// Every Redis call of the package on a hung connection returns by its
// bound (WithTimeout; Wait: its interval plus WithTimeout), or by the
// caller's sooner deadline, on clients with and without
// ContextTimeoutEnabled, with context.DeadlineExceeded. The client's own
// read timeout is 1s (and 10s more for Wait's blocking read), so a call
// that ignored its bound overruns it by 900ms or more.
//
// On a loaded machine (load 20, -race, 64 calls woken at once on two
// cores) a call may take its bound plus redistest.Slack plus wakeUps
// times the worst wake-up delay a redistest.WakeProbe saw while it ran: the
// calls' timers fire on time but their goroutines wait their turn to run,
// and a deadline reaches a waiting call in up to three wake-ups (the
// ctx's timer goroutine cancels it, the netpoller or the bound's timer
// wakes the caller, which then runs), each as late as the probe's. A
// burst with a late call runs again, redistest.TimingAttempts times in
// all (the hang holds, so each run is the same test): at load 10–14 one
// burst in about fifteen had calls overrun by more than that, together
// (all of one burst at 416ms, probe 71ms), and none twice in a row; an
// ignored bound overruns in every run.
func TestRedisCallsReturnByTheBound(t *testing.T) {
	const timeout = 100 * time.Millisecond
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		for name, kind := range clientKinds() {
			t.Run(name, func(t *testing.T) {
				c, faults := tg.NewClient(kind.opts...)
				r := newRedisTypes(t, c, tg.Prefix+kind.prefix, WithTimeout(timeout))
				faults.Hang()
				defer faults.Heal()
				for attempt := 1; ; attempt++ {
					late := callAllAtOnce(t, r.calls(timeout))
					if len(late) == 0 {
						return
					}
					if attempt == redistest.TimingAttempts {
						for _, l := range late {
							t.Error(l)
						}
						return
					}
					t.Logf("burst %d: %d calls late, the first: %s; running it again", attempt, len(late), late[0])
				}
			})
		}
	})
}

// callAllAtOnce makes every call twice, without and with a 30ms ctx, all
// at once, each on a connection of its own (the bound holds for every
// caller, not only the first); it fails t for a call that did not return
// context.DeadlineExceeded and returns the calls that came back late.
func callAllAtOnce(t *testing.T, calls []boundedCall) (late []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	check := func(what string, start time.Time, probe *redistest.WakeProbe, bound time.Duration, err error) {
		elapsed := time.Since(start)
		delay, _ := probe.Stop()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: err = %v, want context.DeadlineExceeded", what, err)
		}
		if elapsed > bound+redistest.Slack+wakeUps*delay {
			mu.Lock()
			late = append(late, fmt.Sprintf("%s took %v, bound %v + %v + %d × wake-up delay %v", what, elapsed, bound, redistest.Slack, wakeUps, delay))
			mu.Unlock()
		}
	}
	for _, bc := range calls {
		wg.Add(2)
		go func() {
			defer wg.Done()
			probe, start := redistest.StartWakeProbe(), time.Now()
			err := bc.call(context.Background())
			check(bc.name, start, probe, bc.bound, err)
		}()
		go func() {
			defer wg.Done()
			const short = 30 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), short)
			defer cancel()
			probe, start := redistest.StartWakeProbe(), time.Now()
			err := bc.call(ctx)
			check(bc.name+" with a 30ms ctx", start, probe, short, err)
		}()
	}
	wg.Wait()
	return late
}

// wakeUps is how many wake-ups a deadline takes to reach a bounded call
// at most (see TestRedisCallsReturnByTheBound).
const wakeUps = 3
