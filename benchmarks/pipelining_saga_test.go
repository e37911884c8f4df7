package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

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
					before := redisServerWork(b, c)
					concurrently(b, g, "sagas/s", func(int) error {
						_, err := s.Execute(ctx, "s"+strconv.FormatInt(ids.Add(1), 10), pipeSagaData{OrderID: "o", Amount: 1})
						return err
					})
					b.StopTimer()
					w := redisServerWork(b, c).minus(before)
					b.ReportMetric(w.scripts/float64(b.N), "scripts/saga")
					b.ReportMetric(w.scriptUsec/float64(b.N), "redis-µs/saga")
				})
			}
		}
	}
}
