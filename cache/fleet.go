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
// The lock is prefix+key holding a random token, set with SET NX PX for at
// most the load timeout; the holder releases it with a compare-and-delete
// script that also publishes the key on the channel. Losers wait for that
// message (one subscription per Aside), re-reading the cache and retrying
// the lock on a timer too, since pub/sub may drop a message, and after
// lockWait they load by themselves.
type fleetLock struct {
	client  redis.UniversalClient
	prefix  string
	channel string
	bound   redisx.Bound
	ttl     time.Duration
	wait    time.Duration

	mu      sync.Mutex
	waiters map[string]chan struct{} // closed when the key is released

	sub  *redis.PubSub
	done chan struct{} // closed when the subscription goroutine ends
}

func newFleetLock(c redis.UniversalClient, prefix string, timeout, ttl, wait time.Duration) *fleetLock {
	l := &fleetLock{
		client: c, prefix: prefix, channel: prefix + "released",
		bound: redisx.NewBound(c, timeout), ttl: ttl, wait: wait,
		waiters: make(map[string]chan struct{}),
		done:    make(chan struct{}),
	}
	l.sub = c.Subscribe(context.Background(), l.channel)
	go l.listen()
	return l
}

// listen wakes the waiters of every key released anywhere in the fleet.
// go-redis resubscribes by itself after a connection loss.
func (l *fleetLock) listen() {
	defer close(l.done)
	for msg := range l.sub.Channel() {
		l.mu.Lock()
		if ch, ok := l.waiters[msg.Payload]; ok {
			close(ch)
			delete(l.waiters, msg.Payload)
		}
		l.mu.Unlock()
	}
}

func (l *fleetLock) close() {
	_ = l.sub.Close()
	<-l.done
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
		return l.client.SetNX(ctx, l.prefix+key, token, l.ttl).Result()
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
	_, err := redisx.Do(ctx, l.bound, func(ctx context.Context) (any, error) {
		return releaseScript.Run(ctx, l.client, []string{l.prefix + key}, token, l.channel, key).Result()
	})
	if err != nil {
		return fmt.Errorf("cache: releasing fleet lock on %q: %w", key, err)
	}
	return nil
}
