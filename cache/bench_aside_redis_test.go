package cache

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// BenchmarkAsideColdRedis: Aside.Get of keys never seen before, on a real
// server when PATTERNS_REDIS_ADDR is set, else on miniredis, from g
// goroutines at once: the latency of a cold read (the GET that misses,
// the loader, which answers at once, and the fenced store), ns/op being
// per Get with g=1 and the time per Get of g concurrent ones otherwise.
func BenchmarkAsideColdRedis(b *testing.B) {
	kind := redistest.Mini
	if os.Getenv(redistest.EnvAddr) != "" {
		kind = redistest.Real
	}
	tg := redistest.New(b, kind)
	for _, g := range []int{1, 16} {
		b.Run("backend="+string(kind)+"/g="+strconv.Itoa(g), func(b *testing.B) {
			r, err := NewRedis[string](tg.Client, WithPrefix(uniquePrefix(tg)))
			if err != nil {
				b.Fatal(err)
			}
			a, err := NewAside(Cache[string](r), func(_ context.Context, key string) (string, error) {
				return key, nil
			}, WithTTL(time.Minute))
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						if _, err := a.Get(bg, "cold:"+strconv.FormatInt(n, 10)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if st := a.Stats(); st.Loads != uint64(b.N) || st.Fenced != 0 {
				b.Fatalf("%d Gets: %d loads, %d stores refused", b.N, st.Loads, st.Fenced)
			}
		})
	}
}
