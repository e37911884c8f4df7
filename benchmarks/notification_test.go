package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/casestudies/notification/notify"
	"github.com/sysdesign/patterns/casestudies/notification/senders"
	"github.com/sysdesign/patterns/ratelimit"
)

// The notification case study end to end (issue 11's targets): a
// notification counts as delivered when every requested channel's Sender
// returned, and notifications/s runs from the first submission to the
// last delivery. Senders are instant (no-op) for throughput. Every feature
// of the delivery path stays on: the history (cqrs) and its projection,
// the preference read (cache-aside), the provider breaker and the per-user
// rate limit (set high enough to allow everything, so it is checked but
// never defers). notifyUsers users share the load.
//
// Two ways in: "inproc" calls Service.Submit; "http" POSTs the same JSON to
// the service on a real loopback listener through a keep-alive client (on
// the same cores as the service, so it pays both ends of HTTP). p50-µs and
// p99-µs are from submission to the last channel's send.

const (
	notifyClients = 32   // goroutines submitting at once, in every case
	notifyWorkers = 16   // the service's workers, and asynq's Concurrency
	notifyUsers   = 1000 // distinct users
)

var notifyRun atomic.Int64 // unique Redis prefixes across runs

// notifySink is the senders' side of a run: it timestamps every
// notification's last channel and closes done when all are delivered.
type notifySink struct {
	channels int
	want     int64
	pending  sync.Map // notification id → *atomic.Int32 channels left (channels > 1)
	count    atomic.Int64
	mu       sync.Mutex
	lat      []time.Duration
	done     chan struct{}
}

func newNotifySink(n, channels int) *notifySink {
	return &notifySink{channels: channels, want: int64(n), lat: make([]time.Duration, 0, n), done: make(chan struct{})}
}

// sent is one channel's send of the notification whose body carries its
// submission time.
func (s *notifySink) sent(notificationID string, body string) {
	if s.channels > 1 {
		v, _ := s.pending.LoadOrStore(notificationID, new(atomic.Int32))
		if v.(*atomic.Int32).Add(1) < int32(s.channels) {
			return
		}
		s.pending.Delete(notificationID)
	}
	s.delivered(body)
}

func (s *notifySink) delivered(stamp string) {
	if ns, err := strconv.ParseInt(stamp, 10, 64); err == nil {
		d := time.Since(time.Unix(0, ns))
		s.mu.Lock()
		s.lat = append(s.lat, d)
		s.mu.Unlock()
	}
	if s.count.Add(1) == s.want {
		close(s.done)
	}
}

func (s *notifySink) sender() senders.Sender {
	return senders.SenderFunc(func(_ context.Context, m senders.Message) error {
		s.sent(m.ID[:strings.IndexByte(m.ID, '.')], m.Body)
		return nil
	})
}

// await waits for every delivery and returns notifications/s since start.
func (s *notifySink) await(b *testing.B, start time.Time) float64 {
	select {
	case <-s.done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("%d of %d notifications delivered after two minutes", s.count.Load(), s.want)
	}
	return float64(s.want) / time.Since(start).Seconds()
}

// report reports a whole run's rate and latencies.
func (s *notifySink) report(b *testing.B, rate float64) {
	b.ReportMetric(rate, "notifications/s")
	s.mu.Lock()
	defer s.mu.Unlock()
	reportPercentiles(b, s.lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	b.ReportMetric(quantileMicros(lat, 0.5), "p50-µs")
	b.ReportMetric(quantileMicros(lat, 0.99), "p99-µs")
}

// notifyChannels are the first n of the service's channels.
func notifyChannels(n int) []string { return []string{"push", "email", "sms"}[:n] }

// newNotifyService starts a service whose every channel sends through
// send; c nil keeps it in memory. stop shuts it down and deletes its keys.
func newNotifyService(b *testing.B, c redis.UniversalClient, send senders.Sender) (svc *notify.Service, stop func()) {
	cfg := notify.Config{
		Senders:  map[string]senders.Sender{"push": send, "email": send, "sms": send},
		Workers:  notifyWorkers,
		UserRate: ratelimit.PerSecond(1_000_000),
	}
	if c != nil {
		cfg.Redis = c
		cfg.Prefix = fmt.Sprintf("bench-notify-%d-%d:", time.Now().UnixNano(), notifyRun.Add(1))
	}
	svc, err := notify.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	return svc, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := svc.Shutdown(ctx); err != nil {
			b.Errorf("shutdown: %v", err)
		}
		if c != nil {
			deleteRunKeys(b, c, cfg.Prefix)
		}
	}
}

// submitter is one way into the service: submit notification i.
type submitter func(ctx context.Context, i int, channels []string) error

func inProcess(svc *notify.Service) submitter {
	return func(ctx context.Context, i int, channels []string) error {
		_, err := svc.Submit(ctx, notify.Notification{UserID: "u" + strconv.Itoa(i%notifyUsers), Channels: channels,
			Body: strconv.FormatInt(time.Now().UnixNano(), 10)})
		return err
	}
}

func overHTTP(svc *notify.Service) (submitter, func()) {
	srv := httptest.NewServer(svc.Handler())
	client := keepAliveClient(notifyClients)
	url := srv.URL + "/api/notifications"
	submit := func(_ context.Context, i int, channels []string) error {
		body := fmt.Appendf(nil, `{"user_id":"u%d","channels":["%s"],"body":"%d"}`,
			i%notifyUsers, strings.Join(channels, `","`), time.Now().UnixNano())
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("POST: status %d", resp.StatusCode)
		}
		return nil
	}
	return submit, func() { client.CloseIdleConnections(); srv.Close() }
}

// submitAll submits n notifications from notifyClients goroutines.
func submitAll(b *testing.B, n int, submit submitter, channels []string) {
	ctx := context.Background()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range notifyClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := submit(ctx, int(i), channels); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// notifyRound sends n notifications through a fresh service and returns
// notifications/s, the timer running only while they go through.
func notifyRound(b *testing.B, c redis.UniversalClient, channels int, via string, n int) (float64, *notifySink) {
	b.StopTimer()
	sink := newNotifySink(n, channels)
	svc, stop := newNotifyService(b, c, sink.sender())
	defer stop()
	submit := inProcess(svc)
	if via == "http" {
		var closeHTTP func()
		submit, closeHTTP = overHTTP(svc)
		defer closeHTTP()
	}
	b.StartTimer()
	start := time.Now()
	submitAll(b, n, submit, notifyChannels(channels))
	rate := sink.await(b, start)
	b.StopTimer()
	return rate, sink
}

// runNotify measures one way into one service, b.N notifications.
func runNotify(b *testing.B, c redis.UniversalClient, channels int, via string) {
	b.ReportAllocs()
	rate, sink := notifyRound(b, c, channels, via, b.N)
	sink.report(b, rate)
}

// BenchmarkNotifyMemory: in memory, target ≥ 20k notifications/s (issue 11).
func BenchmarkNotifyMemory(b *testing.B) {
	for _, ch := range []int{1, 3} {
		for _, via := range []string{"inproc", "http"} {
			b.Run(fmt.Sprintf("%s/ch=%d", via, ch), func(b *testing.B) { runNotify(b, nil, ch, via) })
		}
	}
}

// BenchmarkNotifyRedis: on PATTERNS_REDIS_ADDR, the service (one channel
// per notification) next to asynq processing the same no-op tasks on the
// same Redis with the same concurrency (notifyWorkers handlers,
// notifyClients producers). Target: notify ≥ asynq. "vs-asynq"
// alternates the two, notifyRoundSize each per op, and reports both rates
// and their ratio, so that a busy machine slows both alike.
func BenchmarkNotifyRedis(b *testing.B) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through scripts/with-redis.sh, which starts a redis-server")
	}
	b.Run("notify/inproc", func(b *testing.B) { runNotify(b, notifyRedisClient(b, addr), 1, "inproc") })
	b.Run("notify/http", func(b *testing.B) { runNotify(b, notifyRedisClient(b, addr), 1, "http") })
	b.Run("asynq", func(b *testing.B) {
		b.ReportAllocs()
		rate, sink := asynqRound(b, addr, b.N)
		sink.report(b, rate)
	})
	b.Run("vs-asynq", func(b *testing.B) {
		c := notifyRedisClient(b, addr)
		var ours, theirs float64
		var oursCPU, theirsCPU, oursScripts, theirsScripts float64
		var oursGo, theirsGo time.Duration
		for range b.N {
			w1, g1 := redisServerWork(b, c), notifyProcessCPU(b)
			r, _ := notifyRound(b, c, 1, "inproc", notifyRoundSize)
			ours += r
			w2, g2 := redisServerWork(b, c), notifyProcessCPU(b)
			r, _ = asynqRound(b, addr, notifyRoundSize)
			theirs += r
			w3, g3 := redisServerWork(b, c), notifyProcessCPU(b)
			oursCPU, oursScripts = oursCPU+w2.minus(w1).cpu, oursScripts+w2.minus(w1).scripts
			theirsCPU, theirsScripts = theirsCPU+w3.minus(w2).cpu, theirsScripts+w3.minus(w2).scripts
			oursGo, theirsGo = oursGo+g2-g1, theirsGo+g3-g2
		}
		n := float64(b.N * notifyRoundSize)
		b.ReportMetric(ours/float64(b.N), "notify/s")
		b.ReportMetric(theirs/float64(b.N), "asynq/s")
		b.ReportMetric(ours/theirs, "ratio")
		// What each costs the server per notification (per task): its CPU
		// (set-up and clean-up of a round included) and the scripts run.
		b.ReportMetric(oursCPU*1e6/n, "notify-redis-cpu-µs/op")
		b.ReportMetric(theirsCPU*1e6/n, "asynq-redis-cpu-µs/op")
		b.ReportMetric(oursScripts/n, "notify-scripts/op")
		b.ReportMetric(theirsScripts/n, "asynq-scripts/op")
		// And what each costs this process, where the service and the
		// asynq server both run: its CPU per notification (per task), the
		// producers' side, set-up and clean-up of a round included.
		b.ReportMetric(float64(oursGo.Microseconds())/n, "notify-go-cpu-µs/op")
		b.ReportMetric(float64(theirsGo.Microseconds())/n, "asynq-go-cpu-µs/op")
	})
}

// notifyProcessCPU is the CPU time this process has used so far, user
// and system (getrusage RUSAGE_SELF).
func notifyProcessCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const notifyRoundSize = 3000

func notifyRedisClient(b *testing.B, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 128})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

// asynqRound enqueues n no-op tasks carrying their enqueue time from
// notifyClients producers, handles them with notifyWorkers, and returns
// tasks/s, the timer running only while they go through.
func asynqRound(b *testing.B, addr string, n int) (float64, *notifySink) {
	b.StopTimer()
	opt := asynq.RedisClientOpt{Addr: addr, PoolSize: 128}
	qname := fmt.Sprintf("bench-notify-%d-%d", time.Now().UnixNano(), notifyRun.Add(1))
	sink := newNotifySink(n, 1)
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: notifyWorkers, Queues: map[string]int{qname: 1}, LogLevel: asynq.FatalLevel,
		TaskCheckInterval: 10 * time.Millisecond, // its default (1s) would idle at the start
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(_ context.Context, t *asynq.Task) error {
		sink.delivered(string(t.Payload()))
		return nil
	})
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	client := asynq.NewClient(opt)
	defer func() {
		srv.Shutdown()
		insp := asynq.NewInspector(opt)
		_ = insp.DeleteQueue(qname, true)
		_ = insp.Close()
		_ = client.Close()
	}()
	submit := func(ctx context.Context, _ int, _ []string) error {
		t := asynq.NewTask("noop", strconv.AppendInt(nil, time.Now().UnixNano(), 10))
		_, err := client.EnqueueContext(ctx, t, asynq.Queue(qname))
		return err
	}
	b.StartTimer()
	start := time.Now()
	submitAll(b, n, submit, nil)
	rate := sink.await(b, start)
	b.StopTimer()
	return rate, sink
}

// BenchmarkNotifyCriticalLatency: a critical notification's latency, from
// Submit to its send returning, idle and under a saturating flood of
// normal ones, side by side in one run; target loaded p99 ≤ 2× idle p99.
// Every send takes notifySend (a provider's round trip), notifyWorkers
// deliver, and during the loaded phase four producers keep about
// notifyBacklog normal notifications waiting, so every worker is always
// busy: a critical one waits for at most one send to end. An op is one
// critical notification in each phase, submitted notifySpacing apart.
func BenchmarkNotifyCriticalLatency(b *testing.B) {
	b.Run("memory", func(b *testing.B) { criticalNotifyLatency(b, nil) })
	b.Run("redis", func(b *testing.B) {
		addr := os.Getenv("PATTERNS_REDIS_ADDR")
		if addr == "" {
			b.Skip("PATTERNS_REDIS_ADDR not set: run through scripts/with-redis.sh, which starts a redis-server")
		}
		criticalNotifyLatency(b, notifyRedisClient(b, addr))
	})
}

const (
	notifySend    = 10 * time.Millisecond
	notifyBacklog = 500
	notifySpacing = 20 * time.Millisecond
)

func criticalNotifyLatency(b *testing.B, c redis.UniversalClient) {
	var (
		mu       sync.Mutex
		critical []time.Duration
		normals  atomic.Int64 // submitted and not yet sent
	)
	send := senders.SenderFunc(func(ctx context.Context, m senders.Message) error {
		select {
		case <-time.After(notifySend):
		case <-ctx.Done():
			return ctx.Err()
		}
		if m.Priority != "critical" {
			normals.Add(-1)
			return nil
		}
		ns, err := strconv.ParseInt(m.Body, 10, 64)
		if err != nil {
			return senders.Permanent(err)
		}
		mu.Lock()
		critical = append(critical, time.Since(time.Unix(0, ns)))
		mu.Unlock()
		return nil
	})
	svc, stop := newNotifyService(b, c, send)
	defer stop()
	// phase submits b.N critical notifications and returns their latencies.
	phase := func() []time.Duration {
		mu.Lock()
		critical = critical[:0]
		mu.Unlock()
		for i := range b.N {
			body := strconv.FormatInt(time.Now().UnixNano(), 10)
			_, err := svc.Submit(context.Background(), notify.Notification{UserID: "vip" + strconv.Itoa(i%notifyUsers),
				Channels: []string{"push"}, Priority: "critical", Body: body})
			if err != nil {
				b.Fatal(err)
			}
			time.Sleep(notifySpacing)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
			mu.Lock()
			n := len(critical)
			mu.Unlock()
			if n == b.N {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d critical notifications sent after a minute", n, b.N)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(critical)
	}
	b.ResetTimer()
	idle := phase()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var flood atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if normals.Load() >= notifyBacklog {
					time.Sleep(time.Millisecond)
					continue
				}
				normals.Add(1)
				i := flood.Add(1)
				_, err := svc.Submit(ctx, notify.Notification{UserID: "u" + strconv.FormatInt(i%notifyUsers, 10),
					Channels: []string{"push"}, Body: "flood"})
				if err != nil {
					normals.Add(-1)
				}
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); normals.Load() < notifyBacklog*9/10 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	loaded := phase()
	b.StopTimer()
	cancel()
	wg.Wait()

	idleP99, loadedP99 := quantileMicros(idle, 0.99), quantileMicros(loaded, 0.99)
	b.ReportMetric(idleP99, "idle-p99-µs")
	b.ReportMetric(loadedP99, "loaded-p99-µs")
	b.ReportMetric(loadedP99/max(idleP99, 1), "p99-ratio")
	b.ReportMetric(float64(idle[len(idle)/2].Microseconds()), "idle-p50-µs")
	b.ReportMetric(float64(loaded[len(loaded)/2].Microseconds()), "loaded-p50-µs")
}
