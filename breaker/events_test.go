package breaker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// StoreOption is sealed: only this package's options satisfy it, so an
// option of another constructor is a compile error.
var (
	_ StoreOption = WithPrefix("")
	_ StoreOption = WithTimeout(0)
	_ StoreOption = WithSyncInterval(0)
	_ StoreOption = WithPubSub(false)
)

// eventLog records Observer calls as "kind from->to err".
type eventLog struct {
	mu  sync.Mutex
	log []string
	evs []Event
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := e.Kind.String()
	if e.Kind == EventStateChange {
		s += " " + e.From.String() + "->" + e.To.String()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	l.log = append(l.log, e.Name+" "+s)
	l.evs = append(l.evs, e)
}

func (l *eventLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.log...)
}

func (l *eventLog) count(k EventKind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.evs {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventStateChange: "state-change",
		EventRejected:    "rejected",
		EventDetached:    "detached",
		EventRejoined:    "rejoined",
		EventKind(0):     "EventKind(0)",
	} {
		require.Equal(t, want, k.String())
	}
}

func TestObserverSeesStateChangesAndRejections(t *testing.T) {
	clk := newFakeClock()
	ev, h := &eventLog{}, &hookLog{}
	b := newMemory(t, Config{Name: "svc", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second,
		Observer: ev.observe, OnStateChange: h.hook})
	mustRun(t, b, ok)
	require.Empty(t, ev.get(), "a closed call is no event")
	mustRun(t, b, fail)
	refusal := mustReject(t, b, ErrOpen).Error() // says the time left: read it now
	clk.Advance(time.Second)
	rel, res := goCall(t, b)
	mustReject(t, b, ErrTooManyCalls)
	rel <- nil
	require.NoError(t, recv(t, res))
	require.Equal(t, []string{
		"svc state-change closed->open",
		"svc rejected: " + refusal,
		"svc state-change open->half-open",
		"svc rejected: " + ErrTooManyCalls.Error(),
		"svc state-change half-open->closed",
	}, ev.get())
	require.Equal(t, []string{"svc:closed->open", "svc:open->half-open", "svc:half-open->closed"}, h.get(),
		"OnStateChange fires alongside the observer")
	var oe *OpenError
	require.ErrorAs(t, ev.evs[1].Err, &oe, "the refusal itself")
	require.Equal(t, uint64(2), b.Metrics().Rejections)
}

// The observer is called outside the breaker's lock: it may call the
// breaker, also on a refusal.
func TestObserverMayCallTheBreaker(t *testing.T) {
	var b *Breaker
	var seen []State
	b = newMemory(t, Config{FailureThreshold: 1, OpenTimeout: time.Hour, Observer: func(e Event) {
		seen = append(seen, b.State())
		_ = b.Metrics()
	}})
	mustRun(t, b, fail)
	mustReject(t, b, ErrOpen)
	require.Equal(t, []State{Open, Open}, seen)
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clk := newFakeClock()
	b := newMemory(t, Config{Name: "payments", Clock: clk.Now, FailureThreshold: 1, OpenTimeout: time.Second, Logger: logger})
	mustRun(t, b, ok)
	require.Empty(t, buf.String(), "nothing to say while all is well")
	mustRun(t, b, fail)
	mustReject(t, b, ErrOpen)
	clk.Advance(time.Second)
	mustRun(t, b, ok)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3, "refusals are Debug, below Info: %s", buf.String())
	require.Contains(t, lines[0], `level=WARN msg="breaker: circuit open" breaker=payments from=closed to=open`)
	require.Contains(t, lines[1], `level=INFO msg="breaker: circuit half-open" breaker=payments from=open to=half-open`)
	require.Contains(t, lines[2], `level=INFO msg="breaker: circuit closed" breaker=payments from=half-open to=closed`)

	buf.Reset()
	debug := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b = newMemory(t, Config{Name: "payments", FailureThreshold: 1, OpenTimeout: time.Hour, Logger: debug})
	mustRun(t, b, fail)
	mustReject(t, b, ErrOpen)
	require.Contains(t, buf.String(), `level=DEBUG msg="breaker: call refused" breaker=payments err=`)
}

// A shared breaker reports losing its store once per outage, and finding
// it again, to the observer and the logger.
func TestObserverDetachedAndRejoined(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		ev := &eventLog{}
		var buf bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&buf, nil))
		// A cut fails at once; the long timeout keeps a loaded machine's
		// slow answers from detaching it too. Retries come every 5s.
		m := newFleet(t, tg, 1, clk, Config{FailureThreshold: 2, OpenTimeout: time.Minute,
			Observer: ev.observe, Logger: logger}, WithSyncInterval(time.Second), WithTimeout(5*time.Second))[0]
		mustRun(t, m.Breaker, ok)
		require.Zero(t, ev.count(EventDetached))

		m.faults.Cut()
		mustRun(t, m.Breaker, fail)
		mustRun(t, m.Breaker, fail) // trips locally; the report fails
		require.True(t, m.Metrics().Detached)
		require.Equal(t, 1, ev.count(EventDetached))
		clk.Advance(5 * time.Second) // a retry, still cut off: no second event
		mustReject(t, m.Breaker, ErrOpen)
		require.Equal(t, uint64(2), m.Metrics().StoreErrors)
		require.Equal(t, 1, ev.count(EventDetached))
		require.Zero(t, ev.count(EventRejoined))
		var detached Event
		for _, e := range ev.evs {
			if e.Kind == EventDetached {
				detached = e
			}
		}
		require.Error(t, detached.Err)
		require.Equal(t, "dep", detached.Name)

		m.faults.Heal()
		clk.Advance(5 * time.Second)
		_ = m.Execute(context.Background(), ok)
		require.False(t, m.Metrics().Detached)
		require.Equal(t, 1, ev.count(EventRejoined))
		require.Contains(t, buf.String(), `level=WARN msg="breaker: shared store unreachable, deciding alone" breaker=dep err=`)
		require.Contains(t, buf.String(), `level=INFO msg="breaker: shared store answers again" breaker=dep`)
	})
}
