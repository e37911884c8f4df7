package cache

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// message encodes an invalidation: the sender's id, then each key as its
// length, a colon and the key (keys may hold any bytes).
func (t *Tiered[V]) message(keys ...string) string {
	var b strings.Builder
	b.WriteString(t.id)
	for _, k := range keys {
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(len(k)))
		b.WriteByte(':')
		b.WriteString(k)
	}
	return b.String()
}

var errBadMessage = errors.New("cache: malformed invalidation message")

// parseMessage returns an invalidation's sender and keys.
func parseMessage(msg string) (string, []string, error) {
	sender, rest, _ := strings.Cut(msg, " ")
	var keys []string
	for rest != "" {
		n, after, ok := strings.Cut(rest, ":")
		size, err := strconv.Atoi(n)
		if !ok || err != nil || size < 0 || size > len(after) {
			return "", nil, errBadMessage
		}
		keys = append(keys, after[:size])
		rest = after[size:]
		if rest != "" {
			if rest[0] != ' ' {
				return "", nil, errBadMessage
			}
			rest = rest[1:]
		}
	}
	return sender, keys, nil
}

// listen applies other instances' invalidations to the local tier until
// Close. The local tier is flushed whenever the subscription is
// (re)confirmed and whenever it fails, since messages may have been lost
// in between, and it is filled only while the subscription is live. A
// subscription silent for the health interval is pinged; one that does
// not answer the ping within another interval is replaced.
func (t *Tiered[V]) listen() {
	defer close(t.done)
	backoff := 10 * time.Millisecond
	pinged := false
	for {
		t.mu.Lock()
		sub := t.sub
		t.mu.Unlock()
		msg, err := sub.ReceiveTimeout(t.closing, t.health)
		if t.closed.Load() {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged {
				pinged = true
				if err := sub.Ping(t.closing); err == nil {
					continue
				}
			}
			// The connection failed or stopped answering: messages may be
			// lost from now on.
			t.live.Store(false)
			t.flushLocal()
			t.reportError(err)
			if pinged {
				// A hung connection is not noticed by go-redis: start over.
				t.mu.Lock()
				if t.closed.Load() { // Close has closed, or will close, t.sub
					t.mu.Unlock()
					return
				}
				_ = t.sub.Close()
				t.sub = t.remote.client.Subscribe(t.closing, t.channel)
				t.mu.Unlock()
				pinged = false
			}
			select {
			case <-t.closing.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				// (Re)subscribed: whatever was sent meanwhile is lost.
				t.flushLocal()
				t.live.Store(true)
				backoff = 10 * time.Millisecond
			}
		case *redis.Message:
			sender, keys, err := parseMessage(m.Payload)
			if err != nil {
				t.reportError(err)
				t.flushLocal()
				continue
			}
			if sender != t.id {
				t.dropLocal(keys)
				t.invalidations.Add(uint64(len(keys)))
			}
		}
	}
}
