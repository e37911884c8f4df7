package redisx

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

type listenProbe struct {
	lives, losts atomic.Int32
	got          chan string
}

func listenFor(t *testing.T, c redis.UniversalClient, channel string) (*Listener, *listenProbe) {
	p := &listenProbe{got: make(chan string, 100)}
	l := Listen(c, ListenConfig{
		Channels:  []string{channel},
		Health:    100 * time.Millisecond,
		OnMessage: func(m *redis.Message) { p.got <- m.Payload },
		OnLive:    func() { p.lives.Add(1) },
		OnLost:    func(error) { p.losts.Add(1) },
	})
	t.Cleanup(l.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Ready(ctx); err != nil {
		t.Fatalf("listener not ready: %v", err)
	}
	return l, p
}

// deliveredSoon publishes until the listener gets one message.
func deliveredSoon(t *testing.T, c redis.UniversalClient, channel string, p *listenProbe) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.Publish(context.Background(), channel, "m")
		select {
		case <-p.got:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("no message delivered within 5s")
}

func TestListenerDelivers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		ch := tg.Key("ch")
		l, p := listenFor(t, c, ch)
		if !l.Live() || p.lives.Load() != 1 {
			t.Fatalf("live=%v lives=%d", l.Live(), p.lives.Load())
		}
		deliveredSoon(t, c, ch, p)
	})
}

// A frozen server leaves go-redis waiting forever on the subscription; the
// listener notices within two health intervals, reports it once, and is
// live again after the server thaws.
func TestListenerReplacesAHungSubscription(t *testing.T) {
	s := redistest.StartServer(t)
	c, _ := s.Client()
	l, p := listenFor(t, c, "ch")
	s.Freeze()
	deadline := time.Now().Add(2 * time.Second)
	for l.Live() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l.Live() || p.losts.Load() != 1 {
		t.Fatalf("after freeze: live=%v losts=%d", l.Live(), p.losts.Load())
	}
	s.Thaw()
	deliveredSoon(t, c, "ch", p)
	if !l.Live() || p.lives.Load() < 2 {
		t.Fatalf("after thaw: live=%v lives=%d", l.Live(), p.lives.Load())
	}
}

// A server killed and restarted empty: the listener reports the loss,
// resubscribes by itself and delivers again.
func TestListenerSurvivesARestart(t *testing.T) {
	s := redistest.StartServer(t)
	c, _ := s.Client()
	l, p := listenFor(t, c, "ch")
	s.Kill()
	deadline := time.Now().Add(2 * time.Second)
	for l.Live() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if l.Live() || p.losts.Load() != 1 {
		t.Fatalf("after kill: live=%v losts=%d", l.Live(), p.losts.Load())
	}
	s.Restart()
	deliveredSoon(t, c, "ch", p)
	if p.lives.Load() < 2 {
		t.Fatalf("lives=%d after restart", p.lives.Load())
	}
}

func TestListenerCloseEndsItsGoroutine(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	c, _ := tg.NewClient()
	l, _ := listenFor(t, c, "ch")
	l.Close()
	select {
	case <-l.done:
	default:
		t.Fatal("goroutine still running after Close")
	}
	if l.Live() {
		t.Fatal("live after Close")
	}
}
