package saga

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sysdesign/patterns/internal/redistest"
)

type benchData struct {
	OrderID string
	Amount  int
}

func noopSteps() []Step[benchData] {
	nop := func(context.Context, *benchData) error { return nil }
	return []Step[benchData]{
		{Name: "reserve", Action: nop, Compensate: nop},
		{Name: "charge", Action: nop, Compensate: nop},
		{Name: "confirm", Action: nop},
	}
}

var benchIDs atomic.Int64

func nextID() string { return "b" + strconv.FormatInt(benchIDs.Add(1), 10) }

// BenchmarkMemory3Steps: a 3-step saga of no-op steps with the in-memory
// log on (8 transitions logged), sequential and with one goroutine per
// core; and sequential with steps that each change the data.
func BenchmarkMemory3Steps(b *testing.B) {
	newSaga := func(b *testing.B) *Saga[benchData] {
		ml, err := NewMemoryLog(WithRetention(benchRetention))
		if err != nil {
			b.Fatal(err)
		}
		return mustNew(b, "bench", noopSteps(), WithLog(ml))
	}
	b.Run("serial", func(b *testing.B) {
		s := newSaga(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		start, cpu := time.Now(), cpuTime()
		for i := 0; i < b.N; i++ {
			if _, err := s.Execute(ctx, nextID(), benchData{OrderID: "o", Amount: 1}); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, start, cpu)
	})
	b.Run("serial-changing-data", func(b *testing.B) {
		// Each step changes the data, so every transition logs new data.
		bump := func(_ context.Context, d *benchData) error { d.Amount++; return nil }
		ml, err := NewMemoryLog(WithRetention(benchRetention))
		if err != nil {
			b.Fatal(err)
		}
		s := mustNew(b, "bench", []Step[benchData]{
			{Name: "reserve", Action: bump, Compensate: bump},
			{Name: "charge", Action: bump, Compensate: bump},
			{Name: "confirm", Action: bump},
		}, WithLog(ml))
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		start, cpu := time.Now(), cpuTime()
		for i := 0; i < b.N; i++ {
			if _, err := s.Execute(ctx, nextID(), benchData{OrderID: "o", Amount: 1}); err != nil {
				b.Fatal(err)
			}
		}
		reportRates(b, start, cpu)
	})
	b.Run("parallel", func(b *testing.B) {
		s := newSaga(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		start, cpu := time.Now(), cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.Execute(ctx, nextID(), benchData{OrderID: "o", Amount: 1}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRates(b, start, cpu)
	})
}

// reportRates reports sagas per wall-clock second and per CPU-second of
// the whole process (GC included): on a machine shared with other work
// the latter says what one dedicated core would do.
func reportRates(b *testing.B, start time.Time, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sagas/s")
	if c := cpuTime() - cpu; c > 0 && cpu > 0 {
		b.ReportMetric(float64(b.N)/c.Seconds(), "sagas/cpu-s")
	}
}

// BenchmarkRedis3Steps: the same saga with the log on a real Redis
// (PATTERNS_REDIS_ADDR), from 1 and 64 goroutines: sagas/s and the p99
// latency of one whole saga (4 round trips: the log batches transitions
// that have no action between them).
func BenchmarkRedis3Steps(b *testing.B) {
	addr := os.Getenv(redistest.EnvAddr)
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 128})
	defer c.Close()
	prefix := fmt.Sprintf("bench:saga:%d:", time.Now().UnixNano())
	rl, err := NewRedisLog(c, WithPrefix(prefix), WithRetention(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	s := mustNew(b, "bench", noopSteps(), WithLog(rl))
	for _, g := range []int{1, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", g), func(b *testing.B) {
			ctx := context.Background()
			lat := make([]time.Duration, b.N)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < g; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						t0 := time.Now()
						if _, err := s.Execute(ctx, nextID(), benchData{OrderID: "o", Amount: 1}); err != nil {
							b.Error(err)
							return
						}
						lat[i] = time.Since(t0)
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "sagas/s")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
		})
	}
	// Finished sagas expire by themselves; drop them now anyway.
	iter := c.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		c.Del(context.Background(), iter.Val())
	}
}

var benchRetention = time.Second
