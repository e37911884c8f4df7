package pubsub

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// A consumer's own reclaim passes must never hand it an entry it holds:
// not one its handler runs, nor one queued for a worker, not even when
// the entry's heartbeat came so late that the entry looks dead, and
// not when the entry is acknowledged while the pass is under way (its
// reply then lists an entry no longer held, that was handled already).
// And a really lost entry (a read that go-redis sent again, the first
// reply never seen) still comes back by the next reclaim pass. Every
// message is handled exactly once, as its first delivery: nothing
// crashes here, so no redelivery is allowed.
//
// The rig makes the race happen every time, through a hook on the
// subscriber's client: it holds back heartbeats, makes every entry the
// consumer holds idle for an hour just before a reclaim pass runs (a
// heartbeat that never came), and, once the pass has run on the server,
// lets the running handler finish and waits until its entry is
// acknowledged and released before the reply goes back to the reader.
// Then it loses the first read that finds entries, by sending it again.
func TestRedisOwnReclaimNeverQueuesAHeldEntry(t *testing.T) {
	// A reclaim pass every second; lost entries are the lost pass's while
	// idle for less than this (a dead pass after that counts them again),
	// long enough for a pass that comes late on a loaded machine.
	const visibility = 10 * time.Second
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		rig := &reclaimRig{t: t, admin: tg.Client, gate: make(chan struct{}), done: make(chan struct{}),
			lost: make(chan time.Time, 1)}
		c.AddHook(rig)
		// Unpipelined, so that each script is its own call for the hook;
		// the scripts do the same either way. A long timeout: the hook
		// holds calls while the handler finishes.
		sub := newTestRedis(t, tg, c, WithVisibilityTimeout(visibility), WithoutPipelining(),
			WithTimeout(20*time.Second))
		pub := newTestRedis(t, tg, tg.Client)

		var mu sync.Mutex
		seen := map[string][]int{} // payload -> attempts
		started := make(chan struct{})
		h := func(_ context.Context, m *Message) error {
			p := string(m.Payload)
			mu.Lock()
			seen[p] = append(seen[p], m.Attempt)
			n := len(seen[p])
			mu.Unlock()
			if p == "0" && n == 1 {
				close(started)
				<-rig.gate
			}
			return nil
		}
		s := mustSub(t, sub, "oq.#", h, WithGroup("g"), WithWorkers(1)).(*redisSub)
		rig.sub = s

		// One entry in the handler, four queued for the only worker.
		const first = 5
		for i := range first {
			mustPub(t, pub, "oq.x", strconv.Itoa(i))
		}
		recvOrFail(t, started)
		require.Eventually(t, func() bool { return heldCount(s) == first }, 10*time.Second, time.Millisecond,
			"the reader holds every entry")
		rig.arm(armReclaim)
		recvOrFail(t, rig.done)

		// A read whose reply is lost; the rest is read as usual.
		const more = 10
		rig.arm(armLose)
		for i := first; i < first+more; i++ {
			mustPub(t, pub, "oq.x", strconv.Itoa(i))
		}
		probe := redistest.StartWakeProbe()
		lostAt := recvOrFail(t, rig.lost)
		total := first + more
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(seen) == total
		}, 20*time.Second, time.Millisecond, "every message is handled")
		took := time.Since(lostAt)
		worst, _ := probe.Stop()
		// The lost entries come back by the end of the next reclaim pass:
		// a pass interval after the last one began, plus a read block (the
		// reader checks between reads) and the pass's calls (a dead sweep,
		// tidy, the lost pass), plus the handler's turn.
		bound := s.reclaimEvery() + sub.cfg.readBlock + 4*redistest.Slack
		require.Less(t, took, bound+10*worst,
			"lost entries are back by the next reclaim pass (bound %v, worst wake-up delay %v)", bound, worst)

		// Let another reclaim pass run over what was handled.
		rig.waitPasses(t, 1)
		st := sub.Stats()
		mu.Lock()
		defer mu.Unlock()
		for i := range total {
			p := strconv.Itoa(i)
			require.Equal(t, []int{1}, seen[p], "message %s: handled once, as its first delivery (lost read %v before all were handled; %+v)",
				p, took, st)
		}
		require.Zero(t, st.Reclaimed, "its own held entries are not reclaimed")
		require.GreaterOrEqual(t, st.Recovered, uint64(1), "the lost read's entries were recovered")
	})
}

// What a reclaimRig does next.
const (
	armNone    = iota
	armReclaim // the next reclaim pass races an acknowledgement
	armLose    // the next read that finds entries is sent again
)

// reclaimRig is a hook on a subscriber's client (see
// TestRedisOwnReclaimNeverQueuesAHeldEntry).
type reclaimRig struct {
	t     *testing.T
	admin redis.UniversalClient
	sub   *redisSub
	gate  chan struct{}  // the first handler waits on it
	done  chan struct{}  // closed once the reclaim race has run
	lost  chan time.Time // when the lost read ran
	mu    sync.Mutex
	armed int
	runs  int // successful reclaim passes ('dead' claims) seen
}

func (r *reclaimRig) arm(what int) {
	r.mu.Lock()
	r.armed = what
	r.mu.Unlock()
}

func (r *reclaimRig) state() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.armed
}

// waitPasses waits until n more reclaim passes ran.
func (r *reclaimRig) waitPasses(t *testing.T, n int) {
	t.Helper()
	r.mu.Lock()
	want := r.runs + n
	r.mu.Unlock()
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.runs >= want
	}, 20*time.Second, time.Millisecond, "reclaim passes ran")
}

func (r *reclaimRig) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *reclaimRig) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (r *reclaimRig) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch {
		case isScript(cmd, heartbeatScript) && r.state() == armReclaim:
			// A heartbeat that does not come (until the race has run).
			select {
			case <-r.done:
			case <-time.After(20 * time.Second):
			}
		case claimMode(cmd) == "dead":
			if r.state() != armReclaim {
				err := next(ctx, cmd)
				if err == nil {
					r.mu.Lock()
					r.runs++
					r.mu.Unlock()
				}
				return err
			}
			return r.race(ctx, next, cmd)
		case cmd.Name() == "xreadgroup" && r.state() == armLose:
			err := next(ctx, cmd)
			if err != nil || !readFound(cmd) {
				return err
			}
			// go-redis sends it again: the first reply is never seen.
			r.arm(armNone)
			r.lost <- time.Now()
			cmd.SetErr(nil)
			return next(ctx, cmd)
		}
		return next(ctx, cmd)
	}
}

// race runs a reclaim pass on entries that look dead, then lets the
// handler finish and waits for its entry's release before the reply
// returns.
func (r *reclaimRig) race(ctx context.Context, next redis.ProcessHook, cmd redis.Cmder) error {
	s := r.sub
	ps, err := r.admin.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.stream, Group: s.group,
		Start: "-", End: "+", Count: 100, Consumer: s.consumer}).Result()
	if err != nil || len(ps) == 0 {
		r.t.Errorf("listing the consumer's entries: %v (%d)", err, len(ps))
		return next(ctx, cmd)
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	// A heartbeat that never came: idle an hour, same owner, same count.
	args := append([]any{"XCLAIM", s.stream, s.group, s.consumer, 0}, anys(ids)...)
	err = r.admin.Do(ctx, append(args, "IDLE", time.Hour.Milliseconds(), "JUSTID")...).Err()
	if err != nil {
		r.t.Errorf("making entries idle: %v", err)
		return next(ctx, cmd)
	}
	if err := next(ctx, cmd); err != nil {
		return err // NOSCRIPT, say: the next pass races again
	}
	r.arm(armNone)
	close(r.gate)
	first := slices.Min(ids)
	deadline := time.Now().Add(20 * time.Second)
	for s.holds(first) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s.holds(first) {
		r.t.Errorf("entry %s still held 20s after its handler was let go", first)
	}
	close(r.done)
	return nil
}

// holds reports whether s holds entry id.
func (s *redisSub) holds(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.held[id]
	return ok
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// isScript reports whether cmd runs script.
func isScript(cmd redis.Cmder, script *redis.Script) bool {
	a := cmd.Args()
	if len(a) < 2 {
		return false
	}
	switch cmd.Name() {
	case "evalsha":
		return a[1] == script.Hash()
	}
	return false
}

// claimMode is the mode of a claim script call, or "".
func claimMode(cmd redis.Cmder) string {
	if !isScript(cmd, claimScript) {
		return ""
	}
	a := cmd.Args()
	if len(a) < 7 {
		return ""
	}
	m, _ := a[6].(string)
	return m
}

// readFound reports whether a successful XREADGROUP found entries.
func readFound(cmd redis.Cmder) bool {
	switch c := cmd.(type) {
	case *redis.XStreamSliceCmd:
		for _, st := range c.Val() {
			if len(st.Messages) > 0 {
				return true
			}
		}
	case *redis.Cmd:
		return c.Val() != nil && !errors.Is(c.Err(), redis.Nil)
	}
	return false
}

// An entry being handed back stays held until the hand-back has run:
// a reclaim pass of its own consumer in between (the reader's, under way
// when the subscription began to stop) must not take it back as lost
// (which would hand it back twice, uncounting a delivery twice), and
// once handed back it is delivered once more, as the delivery it was.
func TestRedisEntryBeingHandedBackIsNotTakenByItsOwnConsumer(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		hook := &handBackHook{taken: make(chan []entry, 1)}
		s, col, queued, gate := handBackScene(t, tg, hook)
		s.handBackEntries(queued, false)
		require.Empty(t, recvOrFail(t, hook.taken), "its own reclaim passes took the entry being handed back")
		require.False(t, s.holds(queued[0].id), "released once handed back")

		close(gate)
		got := col.wait(t, 2)
		settle()
		require.Len(t, col.all(), 2, "each message handled once")
		for _, g := range got {
			require.Equal(t, 1, g.Attempt, "message %s: a delivery never made does not count", g.Payload)
		}
	})
}

// handBackScene subscribes, through a client with hook, one worker to a
// group, publishes two messages and holds the first in its handler until
// gate is closed; it returns the subscription, what its handler saw, and
// the second message's entry, taken from the worker's queue (never
// started) to be handed back by the test.
func handBackScene(t *testing.T, tg *redistest.Target, hook *handBackHook, opts ...RedisOption) (*redisSub, *collector, []entry, chan struct{}) {
	t.Helper()
	c, _ := tg.NewClient()
	c.AddHook(hook)
	sub := newTestRedis(t, tg, c, append([]RedisOption{WithoutPipelining()}, opts...)...)
	pub := newTestRedis(t, tg, tg.Client)
	col := newCollector()
	started, gate := make(chan struct{}), make(chan struct{})
	s := mustSub(t, sub, "hb.#", func(ctx context.Context, m *Message) error {
		if string(m.Payload) == "0" {
			close(started)
			<-gate
		}
		return col.handler("g")(ctx, m)
	}, WithGroup("g"), WithWorkers(1)).(*redisSub)
	hook.sub = s
	mustPub(t, pub, "hb.x", "0")
	mustPub(t, pub, "hb.x", "1")
	recvOrFail(t, started)
	require.Eventually(t, func() bool { return heldCount(s) == 2 }, 10*time.Second, time.Millisecond)
	queued := s.takeQueued() // "1", which the only worker has not started
	require.Len(t, queued, 1)
	return s, col, queued, gate
}

// handBackHook runs a lost reclaim pass of the consumer just before its
// first hand-back script, and reports what it took (a dead pass could not
// take the entry anyway: it has been idle for milliseconds). With fail
// set, the script is not sent and the call fails, as one given up at its
// bound.
type handBackHook struct {
	sub   *redisSub
	once  sync.Once
	taken chan []entry
	fail  bool
}

func (h *handBackHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *handBackHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *handBackHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd, handbackScript) {
			h.once.Do(func() {
				_, taken, err := h.sub.claim(ctx, "lost", "0-0")
				if err != nil {
					taken = append(taken, entry{id: "lost: " + err.Error()})
				}
				h.taken <- taken
			})
			if h.fail {
				return errors.New("hand-back given up")
			}
		}
		return next(ctx, cmd)
	}
}

// A hand-back that fails (given up at its bound, its script perhaps still
// to run on the server) leaves its entry held, unheartbeated, for the
// visibility timeout: this consumer's own lost pass does not take it back
// meanwhile; after that it is released, and the entry, dead by then, is
// reclaimed and handled. Nothing is lost.
func TestRedisFailedHandBackKeepsTheEntryHeldForTheVisibilityTimeout(t *testing.T) {
	const visibility = time.Second
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		hook := &handBackHook{taken: make(chan []entry, 1), fail: true}
		s, col, queued, gate := handBackScene(t, tg, hook, WithVisibilityTimeout(visibility))
		begun := time.Now()
		s.handBackEntries(queued, false)
		require.Empty(t, recvOrFail(t, hook.taken), "its own lost pass took the entry being handed back")
		if time.Since(begun) < visibility/2 {
			require.True(t, s.holds(queued[0].id), "held after a failed hand-back")
		}
		require.Eventually(t, func() bool { return !s.holds(queued[0].id) }, visibility+10*time.Second, 5*time.Millisecond,
			"released after the visibility timeout")
		require.GreaterOrEqual(t, time.Since(begun), visibility, "not released before the visibility timeout")

		close(gate)
		col.wait(t, 2)
		settle()
		require.Len(t, col.all(), 2, "each message handled once")
	})
}
