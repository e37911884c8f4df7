package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/cqrs"
)

// Checked single-event appends, one stream per goroutine: appends/s,
// allocations per append, and what each append cost the server (INFO of
// the target's masters: nothing else uses the throwaway servers of
// scripts/with-redis.sh while it runs): scripts/append (EVALSHA and EVAL
// calls: 1 for an append sent alone, less for group-committed ones),
// redis-µs/append (the scripts' own time) and redis-cpu-µs/append (the
// server's CPU, network included), which a loaded machine skews less
// than it skews appends/s.
func BenchmarkPipeliningCQRS(b *testing.B) {
	ctx := context.Background()
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 32, 64} {
			for _, mode := range pipeModes {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/mode=%s", target, g, mode), func(b *testing.B) {
					c := pipeClient(b, target)
					// A 2s bound, not the default: on a loaded machine an append
					// can take longer, which would fail the benchmark rather
					// than slow it.
					opts := []cqrs.Option{cqrs.WithPrefix(benchPrefixFor("cqrs")), cqrs.WithTimeout(2 * time.Second)}
					if mode == "unpipelined" {
						opts = append(opts, cqrs.WithoutPipelining())
					}
					s, err := cqrs.NewRedisStore(c, opts...)
					if err != nil {
						b.Fatal(err)
					}
					versions := make([]int64, g)
					streams := make([]string, g)
					for i := range streams {
						streams[i] = "acc-" + strconv.Itoa(i)
					}
					ev := cqrs.Event{Type: "deposited", Data: []byte(`{"amount":1}`)}
					before, cpu := redisServerWork(b, c), processCPU()
					concurrently(b, g, "appends/s", func(w int) error {
						v, err := s.Append(ctx, streams[w], versions[w], ev)
						versions[w] = v
						return err
					})
					b.StopTimer()
					reportPerAppend(b, c, before, cpu, b.N)
				})
			}
		}
	}
}

// AppendBatch of 16 checked single-event items (16 streams per
// goroutine), one call per batch: appends/s counts the items.
func BenchmarkPipeliningCQRSBatch16(b *testing.B) {
	ctx := context.Background()
	const items = 16
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("target=%s/goroutines=%d", target, g), func(b *testing.B) {
				c := pipeClient(b, target)
				s, err := cqrs.NewRedisStore(c, cqrs.WithPrefix(benchPrefixFor("cqrs-batch")), cqrs.WithTimeout(2*time.Second))
				if err != nil {
					b.Fatal(err)
				}
				ev := cqrs.Event{Type: "deposited", Data: []byte(`{"amount":1}`)}
				batches := make([][]cqrs.StreamAppend, g)
				for w := range batches {
					batches[w] = make([]cqrs.StreamAppend, items)
					for i := range batches[w] {
						batches[w][i] = cqrs.StreamAppend{StreamID: fmt.Sprintf("acc-%d-%d", w, i), Events: []cqrs.Event{ev}}
					}
				}
				before, cpu := redisServerWork(b, c), processCPU()
				start := time.Now()
				concurrently(b, g, "batches/s", func(w int) error {
					res, err := cqrs.AppendBatch(ctx, s, batches[w])
					if err != nil {
						return err
					}
					for i := range res {
						if res[i].Err != nil {
							return res[i].Err
						}
						batches[w][i].ExpectedVersion = res[i].Version
					}
					return nil
				})
				b.ReportMetric(float64(b.N*items)/time.Since(start).Seconds(), "appends/s")
				b.StopTimer()
				reportPerAppend(b, c, before, cpu, b.N*items)
			})
		}
	}
}

// reportPerAppend reports the servers' work per append of the n appends
// made since before, and this process's CPU (go-cpu-µs/append: the
// store, go-redis and the benchmark's loop) since cpu.
func reportPerAppend(b *testing.B, c redis.UniversalClient, before serverWork, cpu time.Duration, n int) {
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(n), "go-cpu-µs/append")
	w := redisServerWork(b, c).minus(before)
	b.ReportMetric(w.scripts/float64(n), "scripts/append")
	b.ReportMetric(w.scriptUsec/float64(n), "redis-µs/append")
	b.ReportMetric(w.cpu*1e6/float64(n), "redis-cpu-µs/append")
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
