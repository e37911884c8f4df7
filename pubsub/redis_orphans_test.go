package pubsub

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// A read whose reply is lost (a timeout, a cut connection, a reply that
// came after its caller stopped waiting, or go-redis sending the read
// again after a timeout) leaves the entries Redis gave it pending for the
// consumer that asked, which never saw them. They must come back while
// that consumer lives, long before the visibility timeout (30s here, and
// miniredis's clock does not move at all): the reader takes back its own
// pending entries that it does not hold.
func TestRedisEntriesOfALostReadAreDeliveredSoon(t *testing.T) {
	const visibility = 30 * time.Second
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		sub := newTestRedis(t, tg, tg.Client, WithVisibilityTimeout(visibility))
		pub := newTestRedis(t, tg, tg.Client, WithVisibilityTimeout(visibility))
		durable, plain := newCollector(), newCollector()
		mustSub(t, sub, "o.#", durable.handler("durable"), WithGroup("g"))
		mustSub(t, sub, "o.#", plain.handler("plain"))
		n := 0
		publish := func(k int) {
			for range k {
				mustPub(t, pub, "o.x", strconv.Itoa(n))
				n++
			}
		}
		publish(10)
		durable.waitUnique(t, 10)
		plain.waitUnique(t, 10)

		// A read of each consumer whose reply is lost: the entries are
		// taken for the consumer, which never sees them (XREADGROUP with
		// its name, from another connection). Publish bursts until such
		// a read finds entries the subscription has not read yet.
		for _, s := range subsOf(sub) {
			for lost := 0; lost == 0; {
				require.Less(t, n, 5000, "the subscription always read first")
				publish(20)
				res, err := tg.Client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: s.group, Consumer: s.consumer,
					Streams: []string{s.stream, ">"}, Count: 5, Block: -1}).Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					require.NoError(t, err)
				}
				for _, st := range res {
					lost += len(st.Messages)
				}
			}
		}
		publish(10)

		began := time.Now()
		durable.waitUnique(t, n)
		plain.waitUnique(t, n)
		require.Less(t, time.Since(began), visibility/3, "the lost entries came back only by the visibility timeout")
		require.GreaterOrEqual(t, sub.Stats().Recovered, uint64(2), "Stats.Recovered")
	})
}

// subsOf lists b's running subscriptions.
func subsOf(b *Redis) []*redisSub {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*redisSub
	for s := range b.subs {
		out = append(out, s)
	}
	return out
}
