// Command notification is the notification-service case study: an HTTP
// API that accepts notifications and delivery workers that send them on
// every requested channel, by priority, with opt-outs, quiet hours,
// retries, per-provider circuit breakers and per-user rate limits. It
// composes the module's queue, cqrs, cache, breaker and ratelimit packages;
// the service itself is package notify.
//
//	go run ./casestudies/notification                      # in memory, console senders, on 127.0.0.1:8081
//	go run ./casestudies/notification -redis localhost:6379 # durable, shared by every instance on that Redis
//	go run ./casestudies/notification -demo                 # a scripted tour over real HTTP; exits 0
//
// Every flag can also be set by the environment variable of the same name
// in capitals with underscores (-redis-cluster: REDIS_CLUSTER); a flag on
// the command line wins.
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
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/casestudies/notification/notify"
	"github.com/sysdesign/patterns/casestudies/notification/senders"
)

// options are the command line's settings.
type options struct {
	addr, redisAddr, redisCluster string
	workers                       int
	webhookURL, webhookSecret     string
	smtpAddr, smtpFrom            string
	demo                          bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "notification:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.demo {
		return runTour(ctx, stdout)
	}
	return serve(ctx, o, slog.New(slog.NewTextHandler(stderr, nil)))
}

// parseFlags reads the flags, each defaulting to its environment variable.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("notification", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "address to serve the API on")
	fs.StringVar(&o.redisAddr, "redis", "", "Redis host:port: keep everything durable and shared there")
	fs.StringVar(&o.redisCluster, "redis-cluster", "", "Redis Cluster nodes, host:port,host:port,…")
	fs.IntVar(&o.workers, "workers", notify.DefaultWorkers, "deliveries run at once")
	fs.StringVar(&o.webhookURL, "webhook-url", "", "deliver push and sms by POSTing to this URL (default: console)")
	fs.StringVar(&o.webhookSecret, "webhook-secret", "", "HMAC-SHA256 key of the webhook signature")
	fs.StringVar(&o.smtpAddr, "smtp-addr", "", "deliver email through this SMTP server host:port (default: console)")
	fs.StringVar(&o.smtpFrom, "smtp-from", "notifications@localhost", "sender address of the e-mails")
	fs.BoolVar(&o.demo, "demo", false, "run the scripted tour over real HTTP and exit")
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		env := strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("environment %s=%q: %w", env, v, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.redisAddr != "" && o.redisCluster != "" {
		return o, errors.New("-redis and -redis-cluster are exclusive")
	}
	return o, nil
}

// buildSenders makes the channels' senders from the flags: real ones where
// configured, console ones otherwise.
func buildSenders(o options, out io.Writer) (map[string]senders.Sender, error) {
	m := map[string]senders.Sender{
		"email": senders.NewConsole("email", out),
		"sms":   senders.NewConsole("sms", out),
		"push":  senders.NewConsole("push", out),
	}
	if o.smtpAddr != "" {
		s, err := senders.NewSMTP(senders.SMTPConfig{Addr: o.smtpAddr, From: o.smtpFrom})
		if err != nil {
			return nil, err
		}
		m["email"] = s
	}
	if o.webhookURL != "" {
		w, err := senders.NewWebhook(senders.WebhookConfig{URL: o.webhookURL, Secret: o.webhookSecret})
		if err != nil {
			return nil, err
		}
		m["push"], m["sms"] = w, w
	}
	return m, nil
}

// serve runs the API and the workers until ctx ends, then shuts down
// gracefully: the listener first, then the workers.
func serve(ctx context.Context, o options, log *slog.Logger) error {
	ss, err := buildSenders(o, os.Stdout)
	if err != nil {
		return err
	}
	cfg := notify.Config{Senders: ss, Workers: o.workers, Logger: log}
	switch {
	case o.redisAddr != "":
		c := redis.NewClient(&redis.Options{Addr: o.redisAddr})
		defer c.Close()
		cfg.Redis = c
	case o.redisCluster != "":
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(o.redisCluster, ",")})
		defer c.Close()
		cfg.Redis = c
	}
	svc, err := notify.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = svc.Shutdown(context.Background())
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("notification: serving", "addr", "http://"+ln.Addr().String(), "redis", cfg.Redis != nil)
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(ignoreClosed(err), srv.Shutdown(sctx), svc.Shutdown(sctx))
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
