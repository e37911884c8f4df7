package analytics

import (
	"context"
	"errors"
	"testing"
	"time"
)

// BenchmarkRecord measures what a redirect pays for its click: validation,
// the record and the buffer send. The buffer is drained by a goroutine
// that drops the clicks, so the pipeline behind it is not measured (see
// BenchmarkPipeline).
func BenchmarkRecord(b *testing.B) {
	a, err := New(Config{Bus: newBenchBus(b), Store: benchStore()})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range a.buf {
		}
	}()
	c := Click{Code: "abc1234", Referrer: "https://news.example/item?id=1", UserAgent: firefox}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := a.Record(ctx, c); err != nil && !errors.Is(err, ErrOverloaded) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The drain may fall behind on a busy machine: those Records took the
	// overload path (no send), reported here so the figure is read right.
	b.ReportMetric(float64(a.Counters().Overloaded)/float64(b.N), "dropped/op")
	_ = a.Close(ctx) // never started: closes the buffer
	<-done
}

// BenchmarkPipeline measures clicks/s from Record to the statistics on the
// memory bus and store: each iteration records a click, and the clock
// stops when Flush has them all counted.
func BenchmarkPipeline(b *testing.B) {
	a, err := New(Config{Bus: newBenchBus(b), Store: benchStore()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer a.Close(ctx)
	c := Click{Code: "abc1234", Referrer: "https://news.example/", UserAgent: firefox}
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		for a.Record(ctx, c) != nil { // buffer full: the pipeline is the bottleneck
			time.Sleep(time.Millisecond)
		}
	}
	if err := a.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "clicks/s")
}
