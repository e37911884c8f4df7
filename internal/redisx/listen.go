package redisx

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultHealth is how long a subscription may stay silent before Listen
// pings it; one that does not answer within another DefaultHealth is
// replaced.
const DefaultHealth = 5 * time.Second

// ListenConfig says what Listen subscribes to and whom it tells.
type ListenConfig struct {
	// Channels to SUBSCRIBE to, or patterns to PSUBSCRIBE to with Patterns.
	Channels []string
	Patterns bool
	// Health is the silence after which the subscription is pinged, and the
	// time the ping has to answer before the subscription is replaced
	// (default DefaultHealth).
	Health time.Duration
	// OnMessage is called, on the listener's goroutine, for each message.
	OnMessage func(*redis.Message)
	// OnLive is called each time a subscription is confirmed: the first
	// time and after every reconnection. Messages published while the
	// subscription was down are lost, so this is where a user re-reads
	// state or flushes what the messages kept fresh.
	OnLive func()
	// OnLost is called once when a live subscription fails or stops
	// answering; no message arrives until the next OnLive.
	OnLost func(error)
}

// Listener keeps one pub/sub subscription alive until Close: it
// reconnects with backoff (10ms doubling to 1s, with jitter) after an
// error, and replaces a connection that stops answering pings, which
// go-redis alone would wait on forever.
type Listener struct {
	c      redis.UniversalClient
	cfg    ListenConfig
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	live   atomic.Bool

	mu    sync.Mutex
	sub   *redis.PubSub
	ready chan struct{} // closed at the first OnLive
	once  sync.Once
}

// Listen starts a Listener on c. It returns at once; Ready waits for the
// first confirmation.
func Listen(c redis.UniversalClient, cfg ListenConfig) *Listener {
	if cfg.Health <= 0 {
		cfg.Health = DefaultHealth
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{c: c, cfg: cfg, ctx: ctx, cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	l.sub = l.subscribe()
	go l.loop()
	return l
}

// Ready waits until the subscription was first confirmed, or ctx ends.
func (l *Listener) Ready(ctx context.Context) error {
	select {
	case <-l.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-l.done:
		return redis.ErrClosed
	}
}

// Live reports whether the subscription is confirmed and answering.
func (l *Listener) Live() bool { return l.live.Load() }

// Close ends the subscription and waits for the listener's goroutine.
func (l *Listener) Close() {
	l.cancel()
	l.mu.Lock()
	_ = l.sub.Close()
	l.mu.Unlock()
	<-l.done
}

func (l *Listener) subscribe() *redis.PubSub {
	if l.cfg.Patterns {
		return l.c.PSubscribe(l.ctx, l.cfg.Channels...)
	}
	return l.c.Subscribe(l.ctx, l.cfg.Channels...)
}

func (l *Listener) lost(err error) {
	if l.live.Swap(false) && l.cfg.OnLost != nil {
		l.cfg.OnLost(err)
	}
}

func (l *Listener) loop() {
	defer close(l.done)
	defer l.live.Store(false)
	const firstBackoff = 10 * time.Millisecond
	backoff := firstBackoff
	pinged := false
	for {
		l.mu.Lock()
		sub := l.sub
		l.mu.Unlock()
		msg, err := sub.ReceiveTimeout(l.ctx, l.cfg.Health)
		if l.ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true // silent: ask; the answer, or nothing, comes next
				if sub.Ping(l.ctx) == nil {
					continue
				}
			}
			l.lost(err)
			if pinged {
				// A connection that stops answering is not noticed by
				// go-redis: start over on a new one.
				l.mu.Lock()
				if l.ctx.Err() != nil {
					l.mu.Unlock()
					return
				}
				_ = l.sub.Close()
				l.sub = l.subscribe()
				l.mu.Unlock()
				pinged = false
			}
			jittered := backoff/2 + rand.N(backoff/2+1)
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(jittered):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" || m.Kind == "psubscribe" {
				backoff = firstBackoff
				l.live.Store(true)
				if l.cfg.OnLive != nil {
					l.cfg.OnLive()
				}
				l.once.Do(func() { close(l.ready) })
			}
		case *redis.Message:
			if l.cfg.OnMessage != nil {
				l.cfg.OnMessage(m)
			}
		}
	}
}
