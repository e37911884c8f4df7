package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

func TestRedisOptionsRefuseNonsense(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	bad := map[string]queue.RedisOption{
		"WithName(empty)":             queue.WithName(""),
		"WithName(brace)":             queue.WithName("a{b}"),
		"WithPrefix(brace)":           queue.WithPrefix("p{"),
		"WithTimeout(0)":              queue.WithTimeout(0),
		"WithTimeout(-1s)":            queue.WithTimeout(-time.Second),
		"WithVisibilityTimeout(0)":    queue.WithVisibilityTimeout(0),
		"WithVisibilityTimeout(10ms)": queue.WithVisibilityTimeout(10 * time.Millisecond),
		"WithAging(0)":                queue.WithAging(0),
		"WithPollInterval(-1)":        queue.WithPollInterval(-1),
		"nil option":                  nil,
	}
	for name, o := range bad {
		if q, err := queue.NewRedis(tg.Client, o); !errors.Is(err, queue.ErrInvalidConfig) || q != nil {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := queue.NewRedis(nil); !errors.Is(err, queue.ErrInvalidConfig) {
		t.Errorf("nil client: %v", err)
	}
}

// TestRedisKeysShareOneSlotAndGoAway checks the key layout: every key of a
// queue carries the queue's name as its hash tag (never a job ID), and
// once every job is acked or cancelled only the wake-up list and the
// delivery markers remain, each with a TTL.
func TestRedisKeysShareOneSlotAndGoAway(t *testing.T) {
	tg := redistest.New(t, redistest.Mini)
	ctx := context.Background()
	q, err := queue.NewRedis(tg.Client, queue.WithPrefix(tg.Prefix), queue.WithName("mail"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, j := range []queue.Job{{ID: "ready"}, {ID: "later", RunAt: time.Now().Add(time.Hour)}, {ID: "leased", Priority: queue.Critical}} {
		if err := q.Enqueue(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	d, err := q.Dequeue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range tg.Mini.Keys() {
		if !strings.HasPrefix(k, tg.Prefix+"{mail}:") {
			t.Fatalf("key %q is not tagged by the queue's name", k)
		}
	}
	if err := q.Ack(ctx, d); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ready", "later"} {
		if err := q.Cancel(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range tg.Mini.Keys() {
		switch k {
		case tg.Prefix + "{mail}:wake":
			if tg.Mini.TTL(k) <= 0 {
				t.Fatalf("wake-up list without a TTL")
			}
		default:
			if !strings.HasPrefix(k, tg.Prefix+"{mail}:d:") || tg.Mini.TTL(k) <= 0 {
				t.Fatalf("key %q left behind by finished jobs", k)
			}
		}
	}
}
