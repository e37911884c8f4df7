package queue

import (
	"context"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestRedisTakeBatchRunTwiceActsOnce: one take script call for several
// callers (one acking its delivery, as Next does) leases each its own
// job, best first, and the same call run again, as go-redis does after a
// lost reply, answers the same jobs without leasing more or acking again.
func TestRedisTakeBatchRunTwiceActsOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		q, err := NewRedis(tg.Client, WithPrefix(tg.Prefix), WithName("takes"))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		ctx := context.Background()
		for _, j := range []Job{{ID: "a", Priority: Critical}, {ID: "b", Priority: High}, {ID: "c"}, {ID: "d", Priority: Low}} {
			if err := q.Enqueue(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		first, err := q.Dequeue(dctx)
		cancel()
		if err != nil || first.ID != "a" {
			t.Fatalf("Dequeue: %v, %v; want a", first, err)
		}
		items := []takeItem{{token: newToken(), ack: first.lease, nonce: newToken()}, {token: newToken()}, {token: newToken()}}
		var answers [2][]string
		for run := range 2 {
			res := make([]takeAnswer, len(items))
			if err := q.takeBatch(ctx, items, res); err != nil {
				t.Fatalf("run %d: %v", run+1, err)
			}
			for i, r := range res {
				d, _, err := q.parseAnswer(1, r.answer, items[i].token)
				if err != nil {
					t.Fatalf("run %d, caller %d: %v (answer %v)", run+1, i, err, r.answer)
				}
				answers[run] = append(answers[run], d.ID)
			}
			ready, _, leased, err := q.Len(ctx)
			if err != nil || ready != 0 || leased != 3 {
				t.Fatalf("run %d: Len %d ready, %d leased (%v); want 0, 3", run+1, ready, leased, err)
			}
		}
		for run, got := range answers {
			if len(got) != 3 || got[0] != "b" || got[1] != "c" || got[2] != "d" {
				t.Fatalf("run %d leased %v, want [b c d]", run+1, got)
			}
		}
		// The first run's ack stands; a later, different ack finds the lease gone.
		if err := q.Ack(ctx, first); err == nil {
			t.Fatal("Ack of a delivery the batch acked: nil error, want ErrLeaseLost")
		}
	})
}
