package pubsub

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

func TestBroadcast(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		mk := func(c redisClient) *Broadcast {
			b, err := NewBroadcast(c, WithPrefix(tg.Prefix), WithBackoff(0, 0), WithMaxAttempts(2))
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close() })
			return b
		}
		c2, _ := tg.NewClient()
		p1, p2 := mk(tg.Client), mk(c2)
		got1, got2 := newCollector(), newCollector()
		mustSub(t, p1, "cache.*.invalidate", got1.handler("p1"))
		mustSub(t, p2, "cache.#", got2.handler("p2"))
		dead := newCollector()
		mustSub(t, p2, DefaultDeadTopic, dead.handler("dead"))
		mustSub(t, p2, "cache.users.invalidate", func(context.Context, *Message) error { return errBoom })

		mustPub(t, p1, "cache.users.invalidate", "u1")
		mustPub(t, p2, "cache.users.x.invalidate", "no-match-for-p1") // Redis's glob would match it
		require.NoError(t, PublishJSON(ctx, p2, "cache.orders.invalidate", map[string]int{"id": 7}))

		g1 := got1.wait(t, 2)
		require.Equal(t, []string{"u1", `{"id":7}`}, payloads(g1))
		require.Equal(t, "application/json", g1[1].Metadata[ContentType])
		require.Len(t, got2.wait(t, 3), 3)
		d := dead.wait(t, 1)
		require.Equal(t, "cache.users.invalidate", d[0].Metadata[MetaDeadTopic])
		settle()
		require.Equal(t, 2, got1.len())
		require.Equal(t, uint64(1), p1.Stats().Published)

		require.NoError(t, p1.Close())
		require.ErrorIs(t, p1.Publish(ctx, "cache.a", nil), ErrClosed)
	})
}

func TestTypedHelpers(t *testing.T) {
	type order struct {
		ID    string
		Total int
	}
	b := NewMemory(WithBackoff(0, 0), WithMaxAttempts(1))
	defer b.Close()
	ctx := context.Background()
	got := make(chan order, 1)
	mustSub(t, b, "orders.created", JSONHandler(func(_ context.Context, o order, m *Message) error {
		require.Equal(t, "application/json", m.Metadata[ContentType])
		got <- o
		return nil
	}))
	dead := newCollector()
	mustSub(t, b, DefaultDeadTopic, dead.handler("d"))
	require.NoError(t, PublishJSON(ctx, b, "orders.created", order{ID: "o1", Total: 42}))
	require.Equal(t, order{ID: "o1", Total: 42}, recvOrFail(t, got))
	mustPub(t, b, "orders.created", "not json")
	require.Contains(t, dead.wait(t, 1)[0].Metadata[MetaDeadReason], "decoding")
	_, err := Decode[order](&Message{Payload: []byte("{")})
	require.Error(t, err)
	require.Error(t, PublishJSON(ctx, b, "x", make(chan int)))
}
