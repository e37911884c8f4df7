package cqrs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sysdesign/patterns/internal/redistest"
)

// benchReset bounds a memory benchmark's heap: the store starts afresh
// every so many events (the swap costs one allocation).
const benchReset = 1 << 20

func rate(b *testing.B, n int, start time.Time, unit string) {
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), unit)
}

// BenchmarkMemoryAppend: single-event appends with an exact expected
// version (checked), to one stream from one goroutine, and to a stream
// per goroutine from GOMAXPROCS goroutines.
func BenchmarkMemoryAppend(b *testing.B) {
	ctx := context.Background()
	e := deposited(7)
	b.Run("serial", func(b *testing.B) {
		s := NewMemoryStore()
		var v int64
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if v == benchReset {
				s, v = NewMemoryStore(), 0
			}
			var err error
			if v, err = s.Append(ctx, "acc", v, e); err != nil {
				b.Fatal(err)
			}
		}
		rate(b, b.N, start, "appends/s")
	})
	b.Run("parallel", func(b *testing.B) {
		var store atomic.Pointer[MemoryStore]
		store.Store(NewMemoryStore())
		var streams atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			id := fmt.Sprint("acc-", streams.Add(1))
			s, v := store.Load(), int64(0)
			for pb.Next() {
				if v == benchReset/8 {
					store.CompareAndSwap(s, NewMemoryStore())
					s, v = store.Load(), 0
					id = fmt.Sprint("acc-", streams.Add(1))
				}
				var err error
				if v, err = s.Append(ctx, id, v, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
		rate(b, b.N, start, "appends/s")
	})
	b.Run("batch=100", func(b *testing.B) {
		s := NewMemoryStore()
		batch := make([]Event, 100)
		for i := range batch {
			batch[i] = deposited(i)
		}
		var v int64
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if v >= benchReset {
				s, v = NewMemoryStore(), 0
			}
			var err error
			if v, err = s.Append(ctx, "acc", v, batch...); err != nil {
				b.Fatal(err)
			}
		}
		rate(b, b.N*100, start, "events/s")
	})
}

// BenchmarkMemoryReplay10k: a 10,000-event stream: the store's Load
// alone, and Repository.Load of its aggregate (JSON-decoding every event)
// in full and from a snapshot 50 events before the end.
func BenchmarkMemoryReplay10k(b *testing.B) {
	ctx := context.Background()
	s := NewMemoryStore()
	mustAppend(b, s, "acc-r", NoStream, ev("Opened", opened{"r"}))
	for v := int64(1); v < 10_000; v += 100 {
		batch := make([]Event, min(100, 10_000-v))
		for i := range batch {
			batch[i] = deposited(i)
		}
		mustAppend(b, s, "acc-r", v, batch...)
	}
	b.Run("store-load", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if evs, err := s.Load(ctx, "acc-r", 1); err != nil || len(evs) != 10_000 {
				b.Fatal(len(evs), err)
			}
		}
		rate(b, b.N*10_000, start, "events/s")
	})
	b.Run("full", func(b *testing.B) {
		r := newRepo(b, s)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, v, err := r.Load(ctx, "r"); err != nil || v != 10_000 {
				b.Fatal(v, err)
			}
		}
		rate(b, b.N*10_000, start, "events/s")
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/replay")
	})
	b.Run("snapshot", func(b *testing.B) {
		snaps := NewMemorySnapshotStore()
		r := newRepo(b, s, WithSnapshots(snaps, 100))
		full, _, _ := newRepo(b, s).Load(ctx, "r")
		data, _ := json.Marshal(full)
		_ = snaps.SaveSnapshot(ctx, Snapshot{StreamID: "acc-r", Version: 9_950, Schema: 1, Data: data})
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, v, err := r.Load(ctx, "r"); err != nil || v != 10_000 {
				b.Fatal(v, err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/load")
	})
}

// BenchmarkMemoryProjection: a Runner catching a balance read model up
// with the log (one event per op, in batches of 256, 1,000 accounts).
func BenchmarkMemoryProjection(b *testing.B) {
	ctx := context.Background()
	s := NewMemoryStore()
	const accounts = 1000
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ctx, fmt.Sprint("acc-", i%accounts), AnyVersion, deposited(i)); err != nil {
			b.Fatal(err)
		}
	}
	m, _ := NewMemoryReadModel("bench", balances)
	r, _ := NewRunner(s, m)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	if pos, err := r.CatchUp(ctx); err != nil || pos != int64(b.N) {
		b.Fatal(pos, err)
	}
	rate(b, b.N, start, "events/s")
}

func benchRedis(b *testing.B) redis.UniversalClient {
	addr := os.Getenv(redistest.EnvAddr)
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func benchPrefix(b *testing.B, c redis.UniversalClient) string {
	p := fmt.Sprintf("bench:cqrs:%d:", time.Now().UnixNano())
	b.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, p+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Unlink(ctx, iter.Val())
		}
	})
	return p
}

// BenchmarkRedisAppend: checked appends (exact expected version) on a real
// Redis (PATTERNS_REDIS_ADDR), one stream per goroutine: single events
// from 1 and 32 goroutines, and batches of 100 events.
func BenchmarkRedisAppend(b *testing.B) {
	c := benchRedis(b)
	for _, bc := range []struct {
		goroutines, batch int
	}{{1, 1}, {32, 1}, {1, 100}, {32, 100}} {
		b.Run(fmt.Sprintf("goroutines=%d/batch=%d", bc.goroutines, bc.batch), func(b *testing.B) {
			s, err := NewRedisStore(c, WithPrefix(benchPrefix(b, c)))
			if err != nil {
				b.Fatal(err)
			}
			batch := make([]Event, bc.batch)
			for i := range batch {
				batch[i] = deposited(i)
			}
			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for g := 0; g < bc.goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id, v := fmt.Sprint("acc-", g), int64(0)
					for next.Add(1) <= int64(b.N) {
						var err error
						if v, err = s.Append(ctx, id, v, batch...); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			if bc.batch == 1 {
				rate(b, b.N, start, "appends/s")
			} else {
				rate(b, b.N*bc.batch, start, "events/s")
			}
		})
	}
}

// BenchmarkRedisReadAll: reading the global log in pages of 256, and a
// Runner feeding a RedisReadModel (1,000 accounts) from it.
func BenchmarkRedisReadAll(b *testing.B) {
	c := benchRedis(b)
	ctx := context.Background()
	s, err := NewRedisStore(c, WithPrefix(benchPrefix(b, c)))
	if err != nil {
		b.Fatal(err)
	}
	const n = 20_000
	batch := make([]Event, 100)
	for i := 0; i < n/100; i++ {
		for j := range batch {
			batch[j] = deposited(j)
		}
		mustAppend(b, s, fmt.Sprint("acc-", i%1000), AnyVersion, batch...)
	}
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		var pos int64 = 1
		for i := 0; i < b.N; i++ {
			evs, err := s.ReadAll(ctx, pos, 256)
			if err != nil || len(evs) == 0 {
				b.Fatal(err)
			}
			if pos += int64(len(evs)); pos > n {
				pos = 1
			}
		}
		rate(b, b.N*256, start, "events/s")
	})
	b.Run("projection", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			m, err := NewRedisReadModel(c, fmt.Sprint("bench-", i), balances, WithPrefix(benchPrefix(b, c)))
			if err != nil {
				b.Fatal(err)
			}
			r, _ := NewRunner(s, m)
			if pos, err := r.CatchUp(ctx); err != nil || pos != n {
				b.Fatal(pos, err)
			}
		}
		rate(b, b.N*n, start, "events/s")
	})
}
