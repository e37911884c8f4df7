package queue_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/queue"
)

// BenchmarkRedisScriptCost measures what each hot operation costs the
// Redis server: the script time INFO commandstats reports, per call, for
// b.N Enqueues, then b.N Dequeues, then b.N Acks, run one at a time on a
// queue of its own (enqueue-µs, dequeue-µs, ack-µs). It needs PATTERNS_REDIS_ADDR (a real server:
// miniredis keeps no command statistics).
func BenchmarkRedisScriptCost(b *testing.B) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through scripts/with-redis.sh")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	q, err := queue.NewRedis(c, queue.WithName(fmt.Sprintf("cost-%d-%d", time.Now().UnixNano(), b.N)))
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	payload := make([]byte, 64)
	b.ResetTimer()
	// Each op is one job enqueued, dequeued and acked; the phases run one
	// after the other over b.N jobs, so each one's server time is its own.
	ds := make([]*queue.Delivery, b.N)
	phases := []struct {
		name string
		op   func(i int) error
	}{
		{"enqueue", func(i int) error {
			return q.Enqueue(ctx, queue.Job{ID: "job-" + strconv.Itoa(i), Payload: payload})
		}},
		{"dequeue", func(i int) (err error) {
			ds[i], err = q.Dequeue(ctx)
			return err
		}},
		{"ack", func(i int) error { return q.Ack(ctx, ds[i]) }},
	}
	for _, p := range phases {
		before := evalUsec(b, c)
		for i := range b.N {
			if err := p.op(i); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric((evalUsec(b, c)-before)/float64(b.N), p.name+"-µs")
	}
}

// evalUsec is the server's total EVALSHA and EVAL time so far, in µs.
func evalUsec(b *testing.B, c *redis.Client) float64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_evalsha:") && !strings.HasPrefix(line, "cmdstat_eval:") {
			continue
		}
		for _, f := range strings.Split(strings.TrimSpace(line[strings.Index(line, ":")+1:]), ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				u, _ := strconv.ParseFloat(v, 64)
				total += u
			}
		}
	}
	return total
}
