package benchmarks

// The URL shortener's targets (issue 10): redirects per second over real
// HTTP on loopback, as a ratio to a bare net/http handler answering a fixed
// 302, measured the same way in the same run; and creates per second.
//
//	cd benchmarks && ../scripts/with-redis.sh go test -run '^$' -bench 'URLShortenerRedirect' -benchtime 40000x -count 3
//	cd benchmarks && ../scripts/with-redis.sh go test -run '^$' -bench 'URLShortenerCreate' -benchtime 5000x -count 3
//
// Each redirect sub-benchmark interleaves rounds of the bare handler and of
// the shortener, with the same client, parallelism and request, and reports
// both rates and their ratio from that one run: a machine busy with something
// else slows both alike. ns/op counts the shortener's rounds only. The click
// pipeline works during the shortener's rounds (it competes with the
// redirects for CPU, and Redis); between rounds the benchmark waits, not
// timed, until the statistics count every redirect served, so no click work
// spills into a bare round (what is left at a round's end is the last batch
// window's clicks), and it fails if a click is lost or counted twice.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/casestudies/urlshortener/shortener"
)

const (
	// urlParallelism is how many requests are in flight at once, each on
	// its own keep-alive connection: a load generator's worth for 2 cores.
	urlParallelism = 16
	// urlRounds is how many bare/shortener round pairs a run interleaves.
	urlRounds = 20
	// urlTarget is where every benchmark link points.
	urlTarget = "https://example.com/landing?campaign=bench"
	// browserUA makes the clicks human ones: the full statistics path.
	browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
)

// BenchmarkURLShortenerRedirect: redirects/s, p50 and p99 of the bare 302
// handler and of the shortener (memory; Redis with a warm local tier; the
// Cluster), and ratio = shortener redirects/s ÷ bare redirects/s. Targets:
// ratio ≥ 0.8 on memory, ≥ 0.6 on Redis.
func BenchmarkURLShortenerRedirect(b *testing.B) {
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", urlTarget)
		w.WriteHeader(http.StatusFound)
	}))
	defer bare.Close()
	for _, be := range urlBackends() {
		b.Run(be.name, func(b *testing.B) {
			srv := be.start(b)
			code := createLink(b, srv.URL, urlTarget)
			client := keepAliveClient(2 * urlParallelism)
			target, control := srv.URL+"/"+code, bare.URL+"/"+code
			// Warm the local tier: the redirect under test is a cached one.
			if _, err := redirectOnce(client, target); err != nil {
				b.Fatal(err)
			}
			var ours, theirs latencies
			chunk := max(1, b.N/urlRounds)
			served := 1 // the warming redirect
			b.ResetTimer()
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				b.StopTimer()
				// Every click of the rounds so far is in the statistics
				// before the bare round starts: no click work of ours runs
				// during it, and none is lost or counted twice.
				if err := awaitClicks(client, srv.URL, code, served); err != nil {
					b.Fatal(err)
				}
				theirs.add(b, drive(client, control, n))
				b.StartTimer()
				ours.add(b, drive(client, target, n))
				served += n
			}
			b.StopTimer()
			if err := awaitClicks(client, srv.URL, code, served); err != nil {
				b.Fatal(err)
			}
			rate, bareRate := ours.perSecond(), theirs.perSecond()
			b.ReportMetric(rate, "redirects/s")
			b.ReportMetric(bareRate, "bare-redirects/s")
			b.ReportMetric(rate/bareRate, "ratio")
			b.ReportMetric(ours.quantile(0.50), "p50-µs")
			b.ReportMetric(ours.quantile(0.99), "p99-µs")
			b.ReportMetric(theirs.quantile(0.50), "bare-p50-µs")
			b.ReportMetric(theirs.quantile(0.99), "bare-p99-µs")
		})
	}
}

// BenchmarkURLShortenerCreate: creates/s, p50 and p99 of POST /api/links
// with distinct URLs (each one a new link), the create limit raised.
func BenchmarkURLShortenerCreate(b *testing.B) {
	for _, be := range urlBackends() {
		b.Run(be.name, func(b *testing.B) {
			srv := be.start(b)
			client := keepAliveClient(2 * urlParallelism)
			run := randomHex(4)
			var next atomic.Int64
			var lat latencies
			b.ResetTimer()
			lat.add(b, parallel(b.N, func() (time.Duration, error) {
				u := fmt.Sprintf("https://example.com/%s/%d", run, next.Add(1))
				t0 := time.Now()
				status, err := postLink(client, srv.URL, u)
				if err == nil && status != http.StatusCreated {
					err = fmt.Errorf("create: status %d", status)
				}
				return time.Since(t0), err
			}))
			b.StopTimer()
			b.ReportMetric(lat.perSecond(), "creates/s")
			b.ReportMetric(lat.quantile(0.50), "p50-µs")
			b.ReportMetric(lat.quantile(0.99), "p99-µs")
		})
	}
}

// urlBackend starts a shortener behind a loopback listener for one
// sub-benchmark, stopped (and its Redis keys deleted) when it ends.
type urlBackend struct {
	name  string
	start func(b *testing.B) *httptest.Server
}

// urlBackends lists memory always, and Redis and the Cluster when the
// environment names them (scripts/with-redis.sh does).
func urlBackends() []urlBackend {
	list := []urlBackend{{"memory", func(b *testing.B) *httptest.Server { return serveShortener(b, nil) }}}
	list = append(list, urlBackend{"redis", func(b *testing.B) *httptest.Server {
		addr := os.Getenv("PATTERNS_REDIS_ADDR")
		if addr == "" {
			b.Skip("PATTERNS_REDIS_ADDR not set: run through scripts/with-redis.sh, which starts a redis-server")
		}
		return serveShortener(b, redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64}))
	}})
	list = append(list, urlBackend{"cluster", func(b *testing.B) *httptest.Server {
		nodes := os.Getenv("PATTERNS_REDIS_CLUSTER")
		if nodes == "" {
			b.Skip("PATTERNS_REDIS_CLUSTER not set: run through scripts/with-redis.sh, which starts a Redis Cluster")
		}
		return serveShortener(b, redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(nodes, ","), PoolSize: 64}))
	}})
	return list
}

// serveShortener serves a shortener on c (nil: memory) with both rate
// limits raised the way a load test raises them (-create-rate,
// -redirect-rate), under a prefix of its own.
func serveShortener(b *testing.B, c redis.UniversalClient) *httptest.Server {
	b.Helper()
	cfg := shortener.Config{BaseURL: "http://sho.rt", CreateRate: 100_000_000, RedirectRate: 100_000_000}
	prefix := "bench-urlshortener-" + randomHex(4) + ":"
	if c != nil {
		cfg.Redis, cfg.Prefix = c, prefix
	}
	srv, err := shortener.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	b.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		if c != nil {
			deleteRunKeys(b, c, prefix)
			_ = c.Close()
		}
	})
	return hs
}

// drive sends n redirects to url, urlParallelism at a time.
func drive(client *http.Client, url string, n int) round {
	return parallel(n, func() (time.Duration, error) {
		t0 := time.Now()
		status, err := redirectOnce(client, url)
		if err == nil && status != http.StatusFound {
			err = fmt.Errorf("GET %s: status %d", url, status)
		}
		return time.Since(t0), err
	})
}

// redirectOnce sends one GET the way a browser following a link from a
// page would, drains the body, and returns the status.
func redirectOnce(client *http.Client, url string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", browserUA)
	req.Header.Set("Referer", "https://news.example.org/item?id=42")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// round is what one parallel run measured.
type round struct {
	lat  []time.Duration
	wall time.Duration
	err  error // the first
}

// parallel runs op n times on urlParallelism goroutines.
func parallel(n int, op func() (time.Duration, error)) round {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	t0 := time.Now()
	for range min(urlParallelism, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				d, err := op()
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = d
			}
		}()
	}
	wg.Wait()
	return round{lat: lat, wall: time.Since(t0), err: firstErr}
}

// latencies accumulates the rounds of one side of a run.
type latencies struct {
	all  []time.Duration
	wall time.Duration
}

func (l *latencies) add(b *testing.B, r round) {
	if r.err != nil {
		b.Fatal(r.err)
	}
	l.all = append(l.all, r.lat...)
	l.wall += r.wall
}

func (l *latencies) perSecond() float64 { return float64(len(l.all)) / l.wall.Seconds() }

// quantile returns the q-quantile in microseconds.
func (l *latencies) quantile(q float64) float64 { return quantileMicros(slices.Clone(l.all), q) }

// awaitClicks polls the link's statistics until they count want human
// clicks; more is a double count, and a minute without reaching want is a
// lost click.
func awaitClicks(client *http.Client, base, code string, want int) error {
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := client.Get(base + "/api/links/" + code + "/stats")
		if err != nil {
			return err
		}
		var st struct{ Total int }
		err = json.NewDecoder(resp.Body).Decode(&st)
		_ = resp.Body.Close()
		switch {
		case err != nil:
			return fmt.Errorf("stats: %w", err)
		case st.Total == want:
			return nil
		case st.Total > want:
			return fmt.Errorf("stats count %d clicks, %d redirects were served", st.Total, want)
		case time.Now().After(deadline):
			return fmt.Errorf("stats count %d clicks after a minute, %d redirects were served", st.Total, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// createLink makes the link the redirects follow and returns its code.
func createLink(b *testing.B, base, target string) string {
	b.Helper()
	body, _ := json.Marshal(map[string]string{"url": target})
	resp, err := http.Post(base+"/api/links", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Code string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Code == "" {
		b.Fatalf("create: status %d, %v", resp.StatusCode, err)
	}
	return out.Code
}

// postLink creates a link for u and returns the status.
func postLink(client *http.Client, base, u string) (int, error) {
	body, _ := json.Marshal(map[string]string{"url": u})
	resp, err := client.Post(base+"/api/links", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
