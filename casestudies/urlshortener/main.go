// Command urlshortener is the URL shortener case study: a service composed
// from this module's packages (ratelimit, cache, cqrs, pubsub), in memory by
// default, on Redis with -redis or -redis-cluster so a fleet shares one
// state. See package shortener for the behaviour.
//
//	go run ./casestudies/urlshortener                    # serve on 127.0.0.1:8080
//	go run ./casestudies/urlshortener -redis localhost:6379
//	go run ./casestudies/urlshortener -demo              # a scripted tour, exits 0
//
// Every flag can be set by the environment variable of the same name in
// upper case with underscores (-redis-cluster → REDIS_CLUSTER); a flag given
// on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/casestudies/urlshortener/shortener"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// options are the command line, after flags and environment.
type options struct {
	addr, redisAddr, redisCluster, apiKey, baseURL, codeKey, trusted string
	createRate, redirectRate                                         int
	sequential, permanent, demo, verbose                             bool
	drain                                                            time.Duration
}

// parse reads flags, falling back to the environment variable named like
// each flag.
func parse(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("urlshortener", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to serve on")
	fs.StringVar(&o.redisAddr, "redis", "", "Redis host:port: keep every part of the state in Redis, shared by a fleet")
	fs.StringVar(&o.redisCluster, "redis-cluster", "", "Redis Cluster nodes, comma-separated (instead of -redis)")
	fs.StringVar(&o.apiKey, "api-key", "", "when set, DELETE /api/links/{code} needs 'Authorization: Bearer <key>'")
	fs.StringVar(&o.baseURL, "base-url", "", "public URL of the service, for short_url (default http://<addr>)")
	fs.StringVar(&o.codeKey, "code-key", "", "secret key of the code permutation, 16+ bytes (default: generated; shared through Redis)")
	fs.StringVar(&o.trusted, "trusted-proxies", "", "CIDRs of proxies whose X-Forwarded-For names the client, comma-separated")
	fs.IntVar(&o.createRate, "create-rate", shortener.DefaultCreateRate, "creates per minute per client IP")
	fs.IntVar(&o.redirectRate, "redirect-rate", shortener.DefaultRedirectRate, "redirects per minute per client IP")
	fs.BoolVar(&o.sequential, "sequential", false, "plain counter codes (0000001, 0000002, …): enumerable, for teaching")
	fs.BoolVar(&o.permanent, "permanent", false, "answer redirects 301 (browsers cache them: clicks stop being counted)")
	fs.BoolVar(&o.demo, "demo", false, "run a scripted tour against a private instance, then exit")
	fs.BoolVar(&o.verbose, "verbose", false, "log at debug level")
	fs.DurationVar(&o.drain, "drain", 15*time.Second, "how long graceful shutdown may take")
	seen := map[string]bool{}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { seen[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && !seen[f.Name] && err == nil {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s=%q: %w", env, v, e)
			}
		}
	})
	return o, err
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parse(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "urlshortener:", err)
		return 2
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, closeRedis, err := o.config(logger)
	if err != nil {
		fmt.Fprintln(stderr, "urlshortener:", err)
		return 2
	}
	defer closeRedis()
	if o.demo {
		cfg.Logger = nil // the tour's narrative is the output
		if err := shortener.Tour(ctx, stdout, cfg); err != nil {
			fmt.Fprintln(stderr, "urlshortener: tour failed:", err)
			return 1
		}
		return 0
	}
	if err := serve(ctx, o, cfg, logger); err != nil {
		logger.Error("stopped", "err", err)
		return 1
	}
	return 0
}

// config turns options into a shortener.Config (and a Redis client to
// close at the end, when there is one).
func (o options) config(logger *slog.Logger) (shortener.Config, func(), error) {
	cfg := shortener.Config{
		BaseURL: o.baseURL, APIKey: o.apiKey, CreateRate: o.createRate, RedirectRate: o.redirectRate,
		Sequential: o.sequential, Permanent: o.permanent, Logger: logger,
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + o.addr
	}
	if o.codeKey != "" {
		cfg.CodeKey = []byte(o.codeKey)
	}
	if o.trusted != "" {
		cfg.TrustedProxies = strings.Split(o.trusted, ",")
	}
	if o.createRate <= 0 || o.redirectRate <= 0 {
		return cfg, func() {}, errors.New("-create-rate and -redirect-rate must be positive")
	}
	switch {
	case o.redisAddr != "" && o.redisCluster != "":
		return cfg, func() {}, errors.New("give -redis or -redis-cluster, not both")
	case o.redisAddr != "":
		cfg.Redis = redis.NewClient(&redis.Options{Addr: o.redisAddr, ContextTimeoutEnabled: true})
	case o.redisCluster != "":
		cfg.Redis = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(o.redisCluster, ","), ContextTimeoutEnabled: true})
	default:
		return cfg, func() {}, nil
	}
	return cfg, func() { _ = cfg.Redis.Close() }, nil
}

// serve runs the service until ctx ends (SIGINT, SIGTERM), then shuts down
// gracefully: the listener stops, in-flight requests finish, pending clicks
// are flushed, all within -drain.
func serve(ctx context.Context, o options, cfg shortener.Config, logger *slog.Logger) error {
	srv, err := shortener.New(cfg)
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := srv.Start(startCtx); err != nil {
		return errors.Join(err, srv.Shutdown(context.Background()))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return errors.Join(err, srv.Shutdown(context.Background()))
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	store := "memory"
	if cfg.Redis != nil {
		store = "redis"
	}
	logger.Info("serving", "addr", ln.Addr().String(), "base_url", cfg.BaseURL, "store", store,
		"create_rate", strconv.Itoa(o.createRate)+"/min", "redirect_rate", strconv.Itoa(o.redirectRate)+"/min")
	select {
	case err = <-served:
	case <-ctx.Done():
		logger.Info("shutting down", "drain", o.drain)
	}
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), o.drain)
	defer cancelDrain()
	return errors.Join(ignoreClosed(err), hs.Shutdown(drainCtx), srv.Shutdown(drainCtx))
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
