package cache

import (
	"errors"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
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

// listen starts the subscription that applies other instances'
// invalidations to the local tier until Close. The local tier is flushed
// whenever the subscription is (re)confirmed and whenever it is lost (or,
// with WithServeStaleWhileDetached, once its maxAge has passed),
// since messages may have been lost in between, and it is filled only
// while the subscription is live. redisx.Listen pings a subscription
// silent for the health interval and replaces one that does not answer
// within another.
func (t *Tiered[V]) listen() *redisx.Listener {
	return redisx.Listen(t.remote.client, redisx.ListenConfig{
		Channels: []string{t.channel},
		Health:   t.health,
		OnMessage: func(m *redis.Message) {
			sender, keys, err := parseMessage(m.Payload)
			if err != nil {
				t.reportError(EventCacheError, err)
				t.flushLocal()
				return
			}
			if sender != t.id {
				t.dropLocal(keys)
				t.invalidations.Add(uint64(len(keys)))
			}
		},
		OnLive: func() {
			// (Re)subscribed: whatever was sent meanwhile is lost.
			t.flushLocal()
			t.staleUntil.Store(0)
			t.live.Store(true)
			if t.lost.Swap(false) {
				t.hooks.emit(Event{Kind: EventResubscribed})
			}
		},
		OnLost: func(err error) {
			if t.staleMax > 0 {
				t.detach() // before live goes false: see localServable
			}
			t.live.Store(false) // first: no fill is kept from now on
			if t.staleMax == 0 {
				t.flushLocal()
			}
			t.lost.Store(true)
			t.reportError(EventSubscriptionLost, err)
		},
	})
}
