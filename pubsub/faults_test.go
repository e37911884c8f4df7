package pubsub

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// The fault suite: a private redis-server is frozen, killed and restarted
// (with and without persistence), paused, put to sleep, run out of memory,
// flushed and its scripts flushed, under a publishing process and a
// subscribing one (a durable group and a plain subscription). Every
// bounded call must return within its timeout plus faultSlack (plus the
// machine's wake-up delay, see bounded), on a default client and on a
// ContextTimeoutEnabled one; the bus must recover by itself; and every
// message Publish accepted (returned nil for) must be delivered to both
// subscriptions once it has.
//
// The timings allow for a 2-core machine shared by several test runs
// (load 10-20) under -race: there a healthy call (a registry load, a bind
// with appendfsync always) took over 200ms now and then, and a heartbeat
// could come 300ms late, so a 200ms timeout and a 300ms lease failed
// healthy runs.

const (
	// faultTimeout bounds every Redis call of the rig's buses: short, and
	// still long enough that a healthy call does not time out on a loaded
	// 2-core CI machine under -race.
	faultTimeout = 400 * time.Millisecond
	// faultSlack is what a bounded call may take beyond its bound: a chain
	// of goroutine hand-offs on a loaded machine, far less than the 1s
	// read and dial timeouts of the rig's clients, which a call that
	// ignored its bound would run into.
	faultSlack = 100 * time.Millisecond
	// faultLength is how long a pause or sleep lasts: longer than the three
	// bounded calls duringFault makes.
	faultLength = 2 * time.Second
	// faultVisibility makes a plain subscription's lease 1.2s (three
	// heartbeats of 400ms): an OOM of oomLength outlasts a lease and the
	// next reaping pass, so a subscription that could not renew its lease
	// would be reaped.
	faultVisibility = 1200 * time.Millisecond
	oomLength       = 2 * time.Second
)

// faultRig is a publishing process and a subscribing one on a private
// server, and what was accepted and delivered.
type faultRig struct {
	t       *testing.T
	srv     *redistest.Server
	copts   []redistest.ClientOption
	pub     *Redis
	sub     *Redis
	extra   *Redis // subscribed, to be shut down during a fault
	durable *idSet
	plain   *idSet
	plainID string    // the plain subscription's (ephemeral) group
	aof     bool      // the server fsyncs every write (appendfsync always)
	events  *recorder // what every bus of the rig observed

	mu       sync.Mutex
	accepted []string
	next     int
}

// idSet counts deliveries by message payload (unique per publish).
type idSet struct {
	mu   sync.Mutex
	seen map[string]int
}

func (s *idSet) handler(_ context.Context, m *Message) error {
	s.mu.Lock()
	s.seen[string(m.Payload)]++
	s.mu.Unlock()
	return nil
}

func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[id] > 0
}

func newFaultRig(t *testing.T, srv *redistest.Server, copts []redistest.ClientOption) *faultRig {
	r := &faultRig{t: t, srv: srv, copts: copts, events: &recorder{},
		durable: &idSet{seen: map[string]int{}}, plain: &idSet{seen: map[string]int{}}}
	r.pub, r.sub = r.newBus(), r.newBus()
	r.subscribe(r.sub, "f.#", r.durable.handler, WithGroup("g"))
	r.plainID = r.subscribe(r.sub, "f.#", r.plain.handler).(*redisSub).group
	r.extra = r.newBus()
	for i := range 3 {
		r.subscribe(r.extra, "e."+strconv.Itoa(i), func(context.Context, *Message) error { return nil })
	}
	r.subscribe(r.extra, "e.#", func(context.Context, *Message) error { return nil }, WithGroup("e"))
	return r
}

// subscribe sets up a subscription of the rig on a healthy server, trying
// again after a timeout: the set-up is not under test, and on a loaded
// machine a healthy bind took longer than faultTimeout now and then (a
// plain subscription that a timed-out try bound is reaped once its
// lease runs out).
func (r *faultRig) subscribe(b *Redis, pattern string, h Handler, opts ...SubscribeOption) Subscription {
	r.t.Helper()
	for try := 1; ; try++ {
		s, err := b.Subscribe(context.Background(), pattern, h, opts...)
		if err == nil {
			return s
		}
		if try == 3 || !errors.Is(err, context.DeadlineExceeded) {
			require.NoError(r.t, err, "subscribing %s (try %d)", pattern, try)
		}
	}
}

// newBus is another process: a client and a bus of its own.
func (r *faultRig) newBus() *Redis {
	c, _ := r.srv.Client(r.copts...)
	b, err := NewRedis(c, WithPrefix("f:"), WithTimeout(faultTimeout), WithReadBlock(50*time.Millisecond),
		WithVisibilityTimeout(faultVisibility), WithBackoff(time.Millisecond, 5*time.Millisecond),
		WithDrainTimeout(time.Second), WithObserver(r.events.observe))
	require.NoError(r.t, err)
	r.t.Cleanup(func() { _ = b.Close() })
	return b
}

// bounded runs a bounded call and fails the test if it took longer than
// limit plus faultSlack plus how late the machine woke sleeping goroutines
// meanwhile (redistest.WakeProbe): on a loaded machine the bound's own timer
// fires late by as much, while a call that ignores its bound overruns by
// far more than any wake-up delay.
func (r *faultRig) bounded(what string, limit time.Duration, call func() error) error {
	r.t.Helper()
	late := redistest.StartWakeProbe()
	start := time.Now()
	err := call()
	elapsed := time.Since(start)
	delay, _ := late.Stop()
	if elapsed > limit+faultSlack+delay {
		r.t.Errorf("%s took %v, bound %v + %v + wake-up delay %v (err %v)", what, elapsed, limit, faultSlack, delay, err)
	}
	return err
}

// publish publishes n messages, each within the bound, and returns how
// many were accepted; each error goes to check (nil: any error is fine).
func (r *faultRig) publish(n int, check func(error)) (accepted int) {
	r.t.Helper()
	for range n {
		r.mu.Lock()
		id := strconv.Itoa(r.next)
		r.next++
		r.mu.Unlock()
		err := r.bounded("Publish", faultTimeout, func() error {
			return r.pub.Publish(context.Background(), "f.x", []byte(id))
		})
		if err != nil {
			if check != nil {
				check(err)
			}
			continue
		}
		r.mu.Lock()
		r.accepted = append(r.accepted, id)
		r.mu.Unlock()
		accepted++
	}
	return accepted
}

// recovered publishes until a publish is accepted (the bus recovered by
// itself), then n more, which are all accepted (see healthy).
func (r *faultRig) recovered(n int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.publish(1, nil) == 0 {
		require.True(r.t, time.Now().Before(deadline), "Publish did not recover within 10s")
		time.Sleep(10 * time.Millisecond)
	}
	for accepted := 0; accepted < n; {
		require.True(r.t, time.Now().Before(deadline), "%d of %d accepted after recovery within 10s", accepted, n)
		accepted += r.publish(1, r.healthy("Publish after recovery"))
	}
}

// healthy checks the errors of calls made while Redis is healthy: none,
// except, on a server that fsyncs every write (appendfsync always), a
// timeout: on a loaded machine's shared disk an fsync took longer than
// faultTimeout now and then. A timed-out Publish is not counted as
// accepted, so the durability checks hold either way.
func (r *faultRig) healthy(what string) func(error) {
	return func(err error) {
		r.t.Helper()
		if r.aof && errors.Is(err, context.DeadlineExceeded) {
			return
		}
		r.t.Errorf("%s: %v", what, err)
	}
}

// delivered waits until every accepted message reached both subscriptions.
func (r *faultRig) delivered() {
	r.t.Helper()
	r.mu.Lock()
	ids := append([]string(nil), r.accepted...)
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for !r.durable.has(id) || !r.plain.has(id) {
			if time.Now().After(deadline) {
				r.t.Fatalf("accepted message %s not delivered (group: %v, plain: %v) of %d accepted",
					id, r.durable.has(id), r.plain.has(id), len(ids))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// duringFault checks the bounded calls while Redis is unusable: Publish
// and Subscribe fail within their bound, Shutdown returns by its ctx.
func (r *faultRig) duringFault() {
	r.t.Helper()
	err := r.bounded("Subscribe", faultTimeout, func() error {
		_, err := r.pub.Subscribe(context.Background(), "f.y", func(context.Context, *Message) error { return nil })
		return err
	})
	require.Error(r.t, err, "Subscribe while Redis is unusable")
	require.Zero(r.t, r.publish(1, nil), "Publish while Redis is unusable")
	ctx, cancel := context.WithTimeout(context.Background(), faultTimeout)
	defer cancel()
	_ = r.bounded("Shutdown", faultTimeout, func() error { return r.extra.Shutdown(ctx) })
}

// eachClient runs fn on a fresh private server (persistent with aof: AOF,
// appendfsync always) with a rig of each client kind.
func eachClient(t *testing.T, aof bool, fn func(t *testing.T, r *faultRig)) {
	var opts []redistest.ServerOption
	if aof {
		opts = append(opts, redistest.WithAOF())
	}
	for name, copts := range redistest.ClientKinds() {
		t.Run(name, func(t *testing.T) {
			srv := redistest.StartServer(t, opts...)
			r := newFaultRig(t, srv, copts)
			r.aof = aof
			r.publish(5, r.healthy("healthy Publish"))
			r.delivered()
			fn(t, r)
		})
	}
}

func TestFaultsFreeze(t *testing.T) {
	eachClient(t, false, func(t *testing.T, r *faultRig) {
		r.srv.Freeze()
		r.duringFault()
		r.events.wait(t, EventDetached)
		r.srv.Thaw()
		r.recovered(10)
		r.delivered()
		r.events.wait(t, EventRejoined)
	})
}

func TestFaultsPause(t *testing.T) {
	eachClient(t, false, func(t *testing.T, r *faultRig) {
		r.srv.Pause(faultLength)
		r.duringFault()
		r.recovered(10)
		r.delivered()
	})
}

func TestFaultsSleep(t *testing.T) {
	eachClient(t, false, func(t *testing.T, r *faultRig) {
		r.srv.Sleep(faultLength)
		r.duringFault()
		r.recovered(10)
		r.delivered()
	})
}

// With appendfsync always, a kill loses nothing acknowledged: messages
// accepted but not yet handled at the kill are delivered after the
// restart (redelivered, if a consumer held them).
func TestFaultsKillRestartWithAOF(t *testing.T) {
	eachClient(t, true, func(t *testing.T, r *faultRig) {
		require.Positive(t, r.publish(20, r.healthy("healthy Publish")), "accepted, in flight at the kill")
		r.srv.Kill()
		r.duringFault()
		r.srv.Restart()
		r.recovered(10)
		r.delivered()
		require.Zero(t, r.sub.Stats().Rebinds, "nothing was lost: nothing to bind again")
	})
}

// Without persistence Redis comes back empty: whatever it held is lost
// (messages not yet handled, and the binding of a group with no running
// member), the running subscriptions bind again by themselves, and every
// message accepted from then on is delivered.
func TestFaultsKillRestartEmpty(t *testing.T) {
	eachClient(t, false, func(t *testing.T, r *faultRig) {
		idle := r.newBus() // a durable group whose only member stops
		mustSub(t, idle, "f.#", func(context.Context, *Message) error { return nil }, WithGroup("idle"))
		require.NoError(t, idle.Close())
		mustPub(t, r.pub, "f.x", "backlog") // waits in the idle group's stream
		r.srv.Kill()
		r.duringFault()
		r.srv.Restart()
		r.recovered(10)
		r.delivered()
		require.Eventually(t, func() bool { return r.sub.Stats().Rebinds == 2 }, 10*time.Second, 5*time.Millisecond,
			"the durable group and the plain subscription bound again")

		// Lost with Redis's data: the idle group's binding and backlog.
		back := &idSet{seen: map[string]int{}}
		mustSub(t, r.newBus(), "f.#", back.handler, WithGroup("idle"))
		r.recovered(1)
		r.delivered()
		require.False(t, back.has("backlog"), "a restart without persistence loses the backlog")
	})
}

// Out of memory (noeviction), Redis refuses writes but allows deletions:
// Publish fails (it never reports success for a message it did not
// store), and a live plain subscription keeps its lease (PEXPIRE is
// allowed) and its binding, however long it lasts.
func TestFaultsOOMKeepsLiveSubscriptions(t *testing.T) {
	eachClient(t, false, func(t *testing.T, r *faultRig) {
		ctx := context.Background()
		r.srv.OOM()
		refused := 0
		for deadline := time.Now().Add(oomLength); time.Now().Before(deadline); {
			if r.publish(1, func(error) { refused++ }) != 0 {
				t.Error("Publish accepted a message while Redis refused writes")
			}
			time.Sleep(50 * time.Millisecond)
		}
		require.Positive(t, refused)
		err := r.bounded("Subscribe", faultTimeout, func() error {
			_, err := r.pub.Subscribe(ctx, "f.y", func(context.Context, *Message) error { return nil })
			return err
		})
		require.Error(t, err, "Subscribe while Redis refuses writes")
		c, _ := r.srv.Client()
		require.Equal(t, "f.#", c.HGet(ctx, r.sub.regKey, r.plainID).Val(), "the live subscription was reaped")
		r.srv.Roomy()
		r.recovered(10)
		r.delivered()
		require.Zero(t, r.sub.Stats().Rebinds, "no subscription lost its binding")
	})
}

// FLUSHALL: both subscriptions bind again and what is published after is
// delivered (what was not yet handled at the flush is lost).
func TestFaultsFlushAll(t *testing.T) {
	eachClient(t, false, func(t *testing.T, r *faultRig) {
		r.srv.FlushAll()
		r.publish(5, func(err error) {
			if !errors.Is(err, ErrNoBinding) {
				t.Errorf("Publish after FLUSHALL: %v, want nil or ErrNoBinding", err)
			}
		})
		r.recovered(10)
		r.delivered()
		require.Eventually(t, func() bool { return r.sub.Stats().Rebinds == 2 }, 10*time.Second, 5*time.Millisecond)
	})
}

// SCRIPT FLUSH: scripts are loaded again (EVALSHA, then EVAL on NOSCRIPT)
// without a failed call.
func TestFaultsScriptFlush(t *testing.T) {
	eachClient(t, false, func(t *testing.T, r *faultRig) {
		ctx := context.Background()
		r.srv.ScriptFlush()
		r.publish(20, func(err error) { t.Errorf("Publish after SCRIPT FLUSH: %v", err) })
		r.delivered()
		s := mustSub(t, r.sub, "f.z", func(context.Context, *Message) error { return nil }).(*redisSub)
		r.srv.ScriptFlush()
		_, _, err := s.claim(ctx, "dead", "0-0")
		require.NoError(t, err, "claim script")
		require.NoError(t, r.sub.reap(ctx), "reaping scripts")
		require.NoError(t, s.unbind(ctx), "unbind script")
	})
}

// Broadcast: Publish is bounded while Redis is frozen, and the process's
// subscription comes back by itself after a restart (messages published
// while it was down are lost: Broadcast promises nothing more).
func TestFaultsBroadcastResubscribes(t *testing.T) {
	for name, copts := range redistest.ClientKinds() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.StartServer(t)
			c, _ := srv.Client(copts...)
			rec := &recorder{}
			b, err := NewBroadcast(c, WithTimeout(faultTimeout), WithObserver(rec.observe))
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close() })
			got := newCollector()
			mustSub(t, b, "cache.#", got.handler("b"))
			mustPub(t, b, "cache.x", "before")
			got.wait(t, 1)

			srv.Freeze()
			start := time.Now()
			require.Error(t, b.Publish(ctx, "cache.x", []byte("frozen")))
			require.LessOrEqual(t, time.Since(start), faultTimeout+faultSlack, "Publish while frozen")
			srv.Thaw()

			srv.Kill()
			srv.Restart()
			after := func() bool { return slices.Contains(payloads(got.all()), "after") }
			deadline := time.Now().Add(10 * time.Second)
			for !after() {
				require.True(t, time.Now().Before(deadline), "the subscription did not come back within 10s")
				_ = b.Publish(ctx, "cache.x", []byte("after"))
				time.Sleep(20 * time.Millisecond)
			}
			rec.wait(t, EventDetached)
			rec.wait(t, EventRejoined)
		})
	}
}
