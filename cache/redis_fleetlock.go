package cache

import (
	"context"
	"crypto/rand"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

//go:embed lua/release.lua
var releaseLua string

var releaseScript = redis.NewScript(releaseLua)

// fleetLock is Aside's lock on Redis around loads, so that processes
// missing a key together run the loader once between them.
//
// The lock of key is prefix + "{}l:" + key holding a random token, set
// with SET NX PX for at most the load timeout; the holder releases it with
// a compare-and-delete script that also publishes the key on the channel
// prefix + "{}released". Losers wait for that message (one subscription
// per Aside), re-reading the cache and retrying the lock on a timer too,
// since pub/sub may drop a message, and after the lock wait they load by
// themselves.
type fleetLock struct {
	client  redis.UniversalClient
	prefix  string // WithPrefix's
	locks   string // prefix + lockMarker
	channel string
	bound   redisx.Bound
	ttl     time.Duration
	wait    time.Duration

	mu      sync.Mutex
	waiters map[string]chan struct{} // closed when the key is released

	listener *redisx.Listener
}

// fleetHealthInterval is how long the release subscription may stay
// silent before it is pinged, and then how long the ping may take before
// the subscription is replaced (tests shorten it). A lost subscription
// costs waiters no more than their polling interval, so the default is
// redisx's.
var fleetHealthInterval = redisx.DefaultHealth

func newFleetLock(c redis.UniversalClient, prefix string, timeout, ttl, wait time.Duration) *fleetLock {
	l := &fleetLock{
		client: c, prefix: prefix, locks: prefix + lockMarker, channel: prefix + releasedMarker,
		bound: redisx.NewBound(c, timeout), ttl: ttl, wait: wait,
		waiters: make(map[string]chan struct{}),
	}
	l.listener = redisx.Listen(c, redisx.ListenConfig{
		Channels: []string{l.channel},
		Health:   fleetHealthInterval,
		OnMessage: func(m *redis.Message) {
			l.wake(m.Payload)
		},
		// Releases published while the subscription was down are lost:
		// every waiter looks again (the cache, then the lock) at once.
		OnLive: l.wakeAll,
		OnLost: func(error) { l.wakeAll() },
	})
	return l
}

// lockKey is the Redis key of key's lock.
func (l *fleetLock) lockKey(key string) string { return l.locks + key }

func (l *fleetLock) close() { l.listener.Close() }

// wake wakes the waiters of key.
func (l *fleetLock) wake(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ch, ok := l.waiters[key]; ok {
		close(ch)
		delete(l.waiters, key)
	}
}

// wakeAll wakes every waiter.
func (l *fleetLock) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, ch := range l.waiters {
		close(ch)
		delete(l.waiters, key)
	}
}

// watch returns a channel closed at key's next release message.
func (l *fleetLock) watch(key string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.waiters[key]
	if !ok {
		ch = make(chan struct{})
		l.waiters[key] = ch
	}
	return ch
}

func (l *fleetLock) unwatch(key string, ch chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiters[key] == ch {
		delete(l.waiters, key)
	}
}

// acquire tries to take key's lock; token is "" when another process holds it.
func (l *fleetLock) acquire(ctx context.Context, key string) (string, error) {
	token := rand.Text()
	ok, err := redisx.Do(ctx, l.bound, func(ctx context.Context) (bool, error) {
		return l.client.SetNX(ctx, l.lockKey(key), token, l.ttl).Result()
	})
	if err != nil {
		return "", fmt.Errorf("cache: fleet lock on %q: %w", key, err)
	}
	if !ok {
		return "", nil
	}
	return token, nil
}

// release drops key's lock if it still holds token and announces it.
func (l *fleetLock) release(ctx context.Context, key, token string) error {
	err := l.bound.Eval(ctx, l.client, releaseScript, []string{l.lockKey(key)}, []any{token, l.channel, key}, nil).Err()
	if err != nil {
		return fmt.Errorf("cache: releasing fleet lock on %q: %w", key, err)
	}
	return nil
}
