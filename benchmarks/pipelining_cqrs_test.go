package benchmarks

import (
	"context"
	"fmt"
	"strconv"
	"testing"

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
					opts := []cqrs.Option{cqrs.WithPrefix(benchPrefixFor("cqrs"))}
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
