package pubsub

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/logtest"
	"github.com/sysdesign/patterns/internal/redistest"
)

// recorder is an observer that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) observe(e Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) of(k EventKind) []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for _, e := range r.evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// wait waits for an event of kind k and returns the first.
func (r *recorder) wait(t testing.TB, k EventKind) Event {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.of(k)) > 0 }, 10*time.Second, time.Millisecond, "no %s event", k)
	return r.of(k)[0]
}

func TestEventKindStrings(t *testing.T) {
	for k := EventRetried; k <= EventRecovered; k++ {
		require.NotContains(t, k.String(), "EventKind", "kind %d has no name", int(k))
	}
	require.Equal(t, "dead-lettered", EventDeadLettered.String())
	require.Equal(t, "EventKind(99)", EventKind(99).String())
}

// failingSubs subscribes a handler that fails (or panics on "panic") on
// b, and a dead-letter handler that fails too, so that a message goes
// through retried, dead-lettered and dead-dropped.
func failingSubs(t *testing.T, b Bus) {
	mustSub(t, b, "ev.*", func(_ context.Context, m *Message) error {
		if string(m.Payload) == "panic" {
			panic("kaboom")
		}
		return errBoom
	}, WithMaxAttempts(2), WithBackoff(0, 0), WithGroup("evg"))
	mustSub(t, b, DefaultDeadTopic, func(context.Context, *Message) error { return errBoom },
		WithMaxAttempts(1))
}

// checkFailureEvents publishes a failing message and a panicking one and
// checks the events they cause.
func checkFailureEvents(t *testing.T, b Bus, rec *recorder) {
	failingSubs(t, b)
	mustPub(t, b, "ev.x", "fails")
	mustPub(t, b, "ev.x", "panic")
	retried := rec.wait(t, EventRetried)
	require.Equal(t, "ev.x", retried.Topic)
	require.Equal(t, "evg", retried.Group)
	require.Equal(t, 1, retried.Attempt)
	require.NotEmpty(t, retried.MessageID)
	require.Error(t, retried.Err)
	dead := rec.wait(t, EventDeadLettered)
	require.Equal(t, 2, dead.Attempt)
	require.Equal(t, "evg", dead.Group)
	panicked := rec.wait(t, EventPanicked)
	require.ErrorIs(t, panicked.Err, ErrPanic)
	rec.wait(t, EventDeadDropped)
	require.Eventually(t, func() bool { return len(rec.of(EventDeadLettered)) == 2 }, 10*time.Second, time.Millisecond)
}

func TestMemoryEventsOfFailures(t *testing.T) {
	rec := &recorder{}
	b := NewMemory(WithObserver(rec.observe))
	defer b.Close()
	checkFailureEvents(t, b, rec)
}

func TestRedisEventsOfFailures(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		rec := &recorder{}
		b := newTestRedis(t, tg, tg.Client, WithObserver(rec.observe))
		checkFailureEvents(t, b, rec)
	})
}

func TestMemoryDroppedEvents(t *testing.T) {
	for _, o := range []Overflow{OverflowDropOldest, OverflowDropNewest, OverflowError} {
		t.Run(o.String(), func(t *testing.T) {
			rec := &recorder{}
			b := NewMemory(WithObserver(rec.observe))
			defer b.Close()
			release := blockedSub(t, b, newCollector(), WithQueueSize(1), WithOverflow(o))
			defer close(release)
			mustPub(t, b, "q.x", "1")
			_ = b.Publish(context.Background(), "q.x", []byte("2"))
			e := rec.wait(t, EventDropped)
			require.Equal(t, "q.x", e.Topic)
			require.Equal(t, "q.#", e.Group)
			if o == OverflowError {
				require.ErrorIs(t, e.Err, ErrQueueFull)
			}
		})
	}
}

// A handed-back memory message goes to the group's other member; with
// none left (Shutdown) it is abandoned.
func TestMemoryHandBackEvents(t *testing.T) {
	rec := &recorder{}
	b := NewMemory(WithObserver(rec.observe))
	started := make(chan string, 2)
	hb := func(ctx context.Context, m *Message) error {
		started <- string(m.Payload)
		<-Stopping(ctx)
		return ErrHandBack
	}
	a := mustSub(t, b, "h", hb, WithGroup("g"))
	mustPub(t, b, "h", "x")
	recvOrFail(t, started)
	mustSub(t, b, "h", hb, WithGroup("g"))
	require.NoError(t, a.Unsubscribe())
	e := rec.wait(t, EventHandedBack)
	require.NoError(t, e.Err, "back to the group")
	require.Equal(t, "x", recvOrFail(t, started), "the other member got it")
	began := time.Now()
	require.NoError(t, b.Shutdown(context.Background()))
	require.Less(t, time.Since(began), time.Second)
	require.Len(t, rec.of(EventHandedBack), 2)
	require.ErrorIs(t, rec.of(EventHandedBack)[1].Err, ErrClosed, "no member left: dropped")
	st := b.Stats()
	require.Equal(t, uint64(1), st.HandedBack)
	require.Equal(t, uint64(1), st.Abandoned)
	require.Zero(t, st.Failed, "a hand-back is not a failure")
}

// Reclaimed: a consumer that stopped heartbeating loses its message to
// another, which reports it.
func TestRedisReclaimedEvent(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		if tg.Mini == nil {
			t.Skip("moves miniredis's clock past the visibility timeout")
		}
		c2, faults := tg.NewClient()
		crashed := newTestRedis(t, tg, c2)
		started := make(chan struct{})
		mustSub(t, crashed, "r", func(ctx context.Context, m *Message) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}, WithGroup("g"))
		mustPub(t, crashed, "r", "x")
		recvOrFail(t, started)
		faults.Cut()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = crashed.Shutdown(ctx)

		rec := &recorder{}
		live := newTestRedis(t, tg, tg.Client, WithObserver(rec.observe))
		c := newCollector()
		tg.Advance(time.Hour)
		mustSub(t, live, "r", c.handler("live"), WithGroup("g"))
		require.Equal(t, "x", c.wait(t, 1)[0].Payload)
		e := rec.wait(t, EventReclaimed)
		require.Equal(t, "g", e.Group)
		require.NotEmpty(t, e.MessageID)
		require.Equal(t, uint64(1), live.Stats().Reclaimed)
	})
}

// NoBinding and Rebound: Redis loses a running group while its member
// cannot reach it; Publish reports the unbound group, and the member
// binds it again once it reaches Redis.
func TestRedisNoBindingAndReboundEvents(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		pubRec, subRec := &recorder{}, &recorder{}
		cs, faults := tg.NewClient()
		sub := newTestRedis(t, tg, cs, WithTimeout(200*time.Millisecond), WithObserver(subRec.observe))
		s := mustSub(t, sub, "nb.*", newCollector().handler("g"), WithGroup("g")).(*redisSub)
		pub := newTestRedis(t, tg, tg.Client, WithTimeout(200*time.Millisecond), WithObserver(pubRec.observe))
		mustPub(t, pub, "nb.x", "before")

		faults.Hang()
		loseNamespace(t, tg, pub, s)
		require.ErrorIs(t, pub.Publish(context.Background(), "nb.x", []byte("x")), ErrNoBinding)
		e := pubRec.wait(t, EventNoBinding)
		require.Equal(t, "nb.x", e.Topic)
		require.Equal(t, "g", e.Group)
		require.ErrorIs(t, e.Err, ErrNoBinding)

		faults.Heal()
		require.Equal(t, "g", subRec.wait(t, EventRebound).Group)
	})
}

// The logger writes each event at its level, with attributes and never
// the payload.
func TestLoggerLevelsAndNoPayload(t *testing.T) {
	var out bytes.Buffer
	b := NewMemory(WithLogger(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithBackoff(0, 0), WithMaxAttempts(2))
	done := make(chan struct{})
	mustSub(t, b, DefaultDeadTopic, func(context.Context, *Message) error { close(done); return nil })
	mustSub(t, b, "log.x", func(context.Context, *Message) error { return errors.New("no") })
	mustPub(t, b, "log.x", "secret-payload-7f3a")
	recvOrFail(t, done)
	require.NoError(t, b.Close())
	require.NotContains(t, out.String(), "secret-payload-7f3a")
	levels := map[string]string{}
	for _, rec := range logtest.Records(t, out.String()) {
		levels[rec["event"].(string)] = rec["level"].(string)
		require.Equal(t, "log.x", rec["topic"])
	}
	require.Equal(t, map[string]string{"retried": "WARN", "dead-lettered": "ERROR"}, levels)
}
