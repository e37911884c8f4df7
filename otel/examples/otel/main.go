// Command otel runs a small order service built from all six packages
// (ratelimit, breaker, cache, pubsub, saga, cqrs, in memory) with their
// OpenTelemetry instrumentation: metrics through the SDK's stdout exporter
// and served for Prometheus on /metrics, traces printed as a tree.
//
//	go run ./examples/otel                 # serve /metrics on 127.0.0.1:9464, traffic every second
//	go run ./examples/otel -demo           # a scripted burst, the metrics and one trace, exit 0
//	go run ./examples/otel -addr 127.0.0.1:0
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	addr := flag.String("addr", os.Getenv("ADDR"), "address to serve /metrics on (env ADDR; default 127.0.0.1:9464, or a free port with -demo)")
	demo := flag.Bool("demo", false, "run a scripted burst of traffic, print the metrics and a trace, and exit")
	flag.Parse()
	if *addr == "" {
		*addr = "127.0.0.1:9464"
		if *demo {
			*addr = "127.0.0.1:0" // a demo never fails on a busy port
		}
	}
	if err := run(*addr, *demo, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, demo bool, out io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Metrics: a Prometheus reader for /metrics, and a periodic reader
	// whose stdout exporter prints one line per data point.
	registry := promclient.NewRegistry()
	promReader, err := prometheus.New(prometheus.WithRegisterer(registry), prometheus.WithoutScopeInfo())
	if err != nil {
		return err
	}
	stdout, err := stdoutmetric.New(stdoutmetric.WithEncoder(lineEncoder{out}), stdoutmetric.WithoutTimestamps())
	if err != nil {
		return err
	}
	interval := 30 * time.Second
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(promReader),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(stdout, sdkmetric.WithInterval(interval))))
	spans := newSpanTree()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	svc, err := newService(mp.Meter("github.com/sysdesign/patterns/otel/examples/otel"), tp.Tracer("github.com/sysdesign/patterns/otel/examples/otel"))
	if err != nil {
		return err
	}
	defer svc.close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	if demo {
		return runDemo(ctx, svc, mp, spans, "http://"+ln.Addr().String()+"/metrics", out)
	}
	fmt.Fprintf(out, "serving /metrics on http://%s/metrics; metrics printed every %s; Ctrl-C stops\n", ln.Addr(), interval)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return mp.Shutdown(context.Background())
		case <-tick.C:
			svc.traffic(ctx, n)
		}
	}
}

func runDemo(ctx context.Context, svc *service, mp *sdkmetric.MeterProvider, spans *spanTree, metricsURL string, out io.Writer) error {
	fmt.Fprintln(out, "== a burst of traffic: 8 orders from 2 users, a failing inventory service, a failing payment")
	for n := 1; n <= 8; n++ {
		svc.order(ctx, n)
	}
	if err := svc.settle(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== one order's trace (request → publish → process → saga → steps → breaker, cache load)")
	spans.print(out, svc.firstTrace())

	fmt.Fprintf(out, "\n== a Prometheus scrape of %s (patterns_ series, histogram buckets left out, first 12)\n", metricsURL)
	if err := printScrape(ctx, metricsURL, out, 12); err != nil {
		return err
	}
	// Shutdown flushes the periodic reader: its stdout exporter prints once.
	fmt.Fprintln(out, "\n== every instrument, through the OpenTelemetry SDK's stdout exporter")
	return mp.Shutdown(context.Background())
}

func printScrape(ctx context.Context, url string, out io.Writer, max int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New("/metrics answered " + resp.Status)
	}
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "patterns_") && !strings.Contains(line, "_bucket{") && n < max {
			fmt.Fprintln(out, line)
			n++
		}
	}
	return nil
}
