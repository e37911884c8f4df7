package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/sysdesign/patterns/cqrs"
)

// Checked single-event appends, one stream per goroutine.
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
					concurrently(b, g, "appends/s", func(w int) error {
						v, err := s.Append(ctx, streams[w], versions[w], ev)
						versions[w] = v
						return err
					})
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
			})
		}
	}
}
