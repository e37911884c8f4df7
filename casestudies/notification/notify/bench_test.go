package notify

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/casestudies/notification/senders"
)

// BenchmarkEndToEndMemory posts notifications over HTTP (one channel each,
// instant sender) from parallel clients and waits until every one is
// sent: accepted-and-delivered notifications per second, in memory.
func BenchmarkEndToEndMemory(b *testing.B) {
	var delivered atomic.Int64
	instant := senders.SenderFunc(func(_ context.Context, _ senders.Message) error { delivered.Add(1); return nil })
	svc, err := New(Config{Senders: map[string]senders.Sender{"push": instant}, NoUserRate: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc.Handler())
	defer func() { srv.Close(); _ = svc.Shutdown(b.Context()) }()
	body := []byte(`{"user_id":"ann","channels":["push"],"body":"hello"}`)
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(srv.URL+"/api/notifications", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	posted := time.Since(start)
	for delivered.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "notifications/s")
	b.Logf("posted in %v, delivered %v later", posted, time.Since(start)-posted)
}
