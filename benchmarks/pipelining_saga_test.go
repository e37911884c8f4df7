package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/saga"
)

type pipeSagaData struct {
	OrderID string
	Amount  int
}

// Three-step sagas of no-op steps on the Redis log: sagas/s, allocations
// per saga, and the scripts each saga ran and the server time they took
// (INFO commandstats of the target's masters, EVALSHA and EVAL: nothing
// else runs scripts on the throwaway servers of scripts/with-redis.sh),
// which a loaded machine does not skew the way it skews sagas/s.
func BenchmarkPipeliningSaga(b *testing.B) {
	ctx := context.Background()
	nop := func(context.Context, *pipeSagaData) error { return nil }
	steps := []saga.Step[pipeSagaData]{
		{Name: "reserve", Action: nop, Compensate: nop},
		{Name: "charge", Action: nop, Compensate: nop},
		{Name: "confirm", Action: nop},
	}
	var ids atomic.Int64
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, mode := range pipeModes {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/mode=%s", target, g, mode), func(b *testing.B) {
					c := pipeClient(b, target)
					opts := []saga.LogOption{saga.WithPrefix(benchPrefixFor("saga")), saga.WithRetention(time.Minute)}
					if mode == "unpipelined" {
						opts = append(opts, saga.WithoutPipelining())
					}
					rl, err := saga.NewRedisLog(c, opts...)
					if err != nil {
						b.Fatal(err)
					}
					s, err := saga.New("bench", steps, saga.WithLog(rl))
					if err != nil {
						b.Fatal(err)
					}
					calls0, usec0 := sagaScriptStats(b, c)
					concurrently(b, g, "sagas/s", func(int) error {
						_, err := s.Execute(ctx, "s"+strconv.FormatInt(ids.Add(1), 10), pipeSagaData{OrderID: "o", Amount: 1})
						return err
					})
					b.StopTimer()
					calls, usec := sagaScriptStats(b, c)
					b.ReportMetric((calls-calls0)/float64(b.N), "scripts/saga")
					b.ReportMetric((usec-usec0)/float64(b.N), "redis-µs/saga")
				})
			}
		}
	}
}

// sagaScriptStats sums the scripts run (EVALSHA and EVAL calls) and the
// time they took, in µs, over c's masters, from INFO commandstats.
func sagaScriptStats(b *testing.B, c redis.UniversalClient) (calls, usec float64) {
	var mu sync.Mutex
	add := func(ctx context.Context, n *redis.Client) error {
		info, err := n.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			line = strings.TrimSpace(line)
			_, stats, ok := strings.Cut(line, ":")
			if !ok || !(strings.HasPrefix(line, "cmdstat_evalsha:") || strings.HasPrefix(line, "cmdstat_eval:")) {
				continue
			}
			for _, f := range strings.Split(stats, ",") {
				k, v, _ := strings.Cut(f, "=")
				x, _ := strconv.ParseFloat(v, 64)
				mu.Lock()
				switch k {
				case "calls":
					calls += x
				case "usec":
					usec += x
				}
				mu.Unlock()
			}
		}
		return nil
	}
	ctx := context.Background()
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, add)
	case *redis.Client:
		err = add(ctx, c)
	default:
		b.Fatalf("unexpected client %T", c)
	}
	if err != nil {
		b.Fatal(err)
	}
	return calls, usec
}
