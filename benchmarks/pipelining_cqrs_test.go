package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
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
					before := cqrsRedisCost(b, c)
					concurrently(b, g, "appends/s", func(w int) error {
						v, err := s.Append(ctx, streams[w], versions[w], ev)
						versions[w] = v
						return err
					})
					b.StopTimer()
					cqrsRedisCost(b, c).report(b, before, b.N)
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
				before := cqrsRedisCost(b, c)
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
				cqrsRedisCost(b, c).report(b, before, b.N*items)
			})
		}
	}
}

// redisCost is what the servers of a target have done so far: scripts
// run (EVALSHA and EVAL calls), the time they took (µs, INFO
// commandstats) and the CPU the servers used (s, INFO cpu), summed over
// the masters.
type redisCost struct{ scripts, scriptUsec, cpu float64 }

func cqrsRedisCost(b *testing.B, c redis.UniversalClient) redisCost {
	var mu sync.Mutex
	var rc redisCost
	add := func(ctx context.Context, n *redis.Client) error {
		info, err := n.Info(ctx, "commandstats", "cpu").Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, line := range strings.Split(info, "\n") {
			name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			switch name {
			case "used_cpu_user", "used_cpu_sys":
				x, _ := strconv.ParseFloat(value, 64)
				rc.cpu += x
			case "cmdstat_evalsha", "cmdstat_eval":
				for _, f := range strings.Split(value, ",") {
					k, v, _ := strings.Cut(f, "=")
					x, _ := strconv.ParseFloat(v, 64)
					switch k {
					case "calls":
						rc.scripts += x
					case "usec":
						rc.scriptUsec += x
					}
				}
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
	return rc
}

// report reports the cost per append of the n appends made since before.
func (rc redisCost) report(b *testing.B, before redisCost, n int) {
	b.ReportMetric((rc.scripts-before.scripts)/float64(n), "scripts/append")
	b.ReportMetric((rc.scriptUsec-before.scriptUsec)/float64(n), "redis-µs/append")
	b.ReportMetric((rc.cpu-before.cpu)*1e6/float64(n), "redis-cpu-µs/append")
}
