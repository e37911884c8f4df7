package benchmarks

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/queue"
)

// Work queues side by side: ours (github.com/sysdesign/patterns/queue) in
// memory and on Redis, and asynq (github.com/hibiken/asynq, a Redis task
// queue with priorities and scheduling) on the same Redis. An op is one
// no-op job enqueued, delivered to one of g consumers and acknowledged;
// jobs/s runs from the first enqueue to the last job done. Four producers
// enqueue in every case. asynq counts a job done when its handler returns
// (it acknowledges after that), ours (patterns) after Ack returned: a bias
// in asynq's favour; patterns-next, a Next loop, counts as asynq does (the
// ack rides on the call that takes the next job).

type workLib struct {
	name string
	// setup starts g consumers calling done once per job, and returns an
	// enqueue function and a teardown.
	setup func(b *testing.B, g int, done func()) (enqueue func(ctx context.Context, i int) error, stop func())
}

const producers = 4

var benchRun atomic.Int64 // unique queue names across runs on one Redis

// patternsWork runs our queue's consumers: each takes a job with Dequeue
// and acknowledges it with Ack, or, with next, runs a Next loop (one call
// acks a job and takes the next: the worker loop the package recommends).
func patternsWork(newQueue func(b *testing.B) queue.Queue, next bool) func(*testing.B, int, func()) (func(context.Context, int) error, func()) {
	return func(b *testing.B, g int, done func()) (func(context.Context, int) error, func()) {
		q := newQueue(b)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var finished *queue.Delivery
				for {
					if next {
						// The job counts done when its (no-op) handling
						// ends, as asynq's do; its ack rides on the Next
						// that takes the following job.
						d, err := q.Next(ctx, finished)
						if err != nil {
							if ctx.Err() == nil {
								b.Error(err)
							}
							return
						}
						finished = d
						done()
						continue
					}
					d, err := q.Dequeue(ctx)
					if err != nil {
						return
					}
					if err := q.Ack(context.Background(), d); err != nil {
						b.Error(err)
						return
					}
					done()
				}
			}()
		}
		run := benchRun.Add(1)
		enqueue := func(ctx context.Context, i int) error {
			return q.Enqueue(ctx, queue.Job{ID: "r" + strconv.FormatInt(run, 10) + "-" + strconv.Itoa(i)})
		}
		return enqueue, func() { cancel(); wg.Wait(); _ = q.Close() }
	}
}

func memoryQueue(b *testing.B) queue.Queue {
	q, err := queue.NewMemory()
	if err != nil {
		b.Fatal(err)
	}
	return q
}

func benchRedisClient(b *testing.B) *redis.Client {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set: run through make bench-compare, which starts a redis-server")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 128})
	b.Cleanup(func() { _ = c.Close() })
	return c
}

func redisQueue(b *testing.B) queue.Queue {
	name := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), benchRun.Add(1))
	q, err := queue.NewRedis(benchRedisClient(b), queue.WithName(name))
	if err != nil {
		b.Fatal(err)
	}
	return q
}

func asynqWork(b *testing.B, g int, done func()) (func(context.Context, int) error, func()) {
	addr := os.Getenv("PATTERNS_REDIS_ADDR")
	if addr == "" {
		b.Skip("PATTERNS_REDIS_ADDR not set")
	}
	opt := asynq.RedisClientOpt{Addr: addr, PoolSize: 128}
	qname := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), benchRun.Add(1))
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: g, Queues: map[string]int{qname: 1}, LogLevel: asynq.FatalLevel,
		TaskCheckInterval: 10 * time.Millisecond, // its default (1s) would idle at the start
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(context.Context, *asynq.Task) error { done(); return nil })
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	client := asynq.NewClient(opt)
	task := asynq.NewTask("noop", nil)
	enqueue := func(ctx context.Context, _ int) error {
		_, err := client.EnqueueContext(ctx, task, asynq.Queue(qname))
		return err
	}
	return enqueue, func() {
		srv.Shutdown()
		insp := asynq.NewInspector(opt)
		_ = insp.DeleteQueue(qname, true)
		_ = insp.Close()
		_ = client.Close()
	}
}

func runWork(b *testing.B, lib workLib, g int) {
	b.ReportAllocs()
	b.ResetTimer()
	rate := workRate(b, lib, g, b.N)
	b.StopTimer()
	b.ReportMetric(rate, "jobs/s")
}

// workRate has g consumers of lib process n jobs from four producers and
// returns the jobs done per second, from the first enqueue to the last job
// done.
func workRate(b *testing.B, lib workLib, g, n int) float64 {
	return workRateFrom(b, lib, g, n, producers)
}

// workRateFrom is workRate with p producers.
func workRateFrom(b *testing.B, lib workLib, g, n, p int) float64 {
	var finished atomic.Int64
	all := make(chan struct{})
	enqueue, stop := lib.setup(b, g, func() {
		if finished.Add(1) == int64(n) {
			close(all)
		}
	})
	defer stop()
	ctx := context.Background()
	var next atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range p {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := enqueue(ctx, int(i)); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d jobs done after a minute", finished.Load(), n)
	}
	return float64(n) / time.Since(start).Seconds()
}

func BenchmarkQueueMemory(b *testing.B) {
	for _, lib := range []workLib{{"patterns", patternsWork(memoryQueue, false)}, {"patterns-next", patternsWork(memoryQueue, true)}} {
		for _, g := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/g=%d", lib.name, g), func(b *testing.B) { runWork(b, lib, g) })
		}
	}
}

// BenchmarkQueueRedis needs PATTERNS_REDIS_ADDR (make bench-compare starts
// a server).
func BenchmarkQueueRedis(b *testing.B) {
	libs := []workLib{{"patterns", patternsWork(redisQueue, false)}, {"patterns-next", patternsWork(redisQueue, true)}, {"asynq", asynqWork}}
	for _, g := range []int{1, 16, 64} {
		for _, lib := range libs {
			b.Run(fmt.Sprintf("%s/g=%d", lib.name, g), func(b *testing.B) { runWork(b, lib, g) })
		}
	}
}

// BenchmarkQueueRedisVersus runs ours and asynq side by side on the same
// Redis, interleaved so that all see the same machine load: each op is
// one job, and the b.N jobs are split into rounds that go to each in turn
// (patterns, patterns-next, asynq, patterns, ...). It reports each one's
// jobs/s over all its rounds, and ratio (ours with Dequeue+Ack) and
// ratio-next (ours with a Next loop) over asynq: ≥ 1 means ours is at
// least as fast; and the Redis server time each one's jobs cost
// (INFO commandstats, everything the server ran meanwhile, so run it on a
// Redis of its own). Needs PATTERNS_REDIS_ADDR.
func BenchmarkQueueRedisVersus(b *testing.B) {
	const rounds = 3 // per library
	libs := []workLib{{"patterns", patternsWork(redisQueue, false)}, {"patterns-next", patternsWork(redisQueue, true)}, {"asynq", asynqWork}}
	for _, g := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("g=%d", g), func(b *testing.B) {
			per := max(b.N/(len(libs)*rounds), 1)
			spent := make([]float64, len(libs))    // seconds each spent on its rounds
			serverUs := make([]float64, len(libs)) // Redis command time each caused, in µs
			stats := benchRedisClient(b)
			b.ResetTimer()
			for range rounds {
				for i, lib := range libs {
					before := redisCommandUsec(b, stats)
					spent[i] += float64(per) / workRate(b, lib, g, per)
					serverUs[i] += redisCommandUsec(b, stats) - before
				}
			}
			b.StopTimer()
			for i, lib := range libs {
				b.ReportMetric(float64(per*rounds)/spent[i], lib.name+"-jobs/s")
				b.ReportMetric(serverUs[i]/float64(per*rounds), lib.name+"-redis-µs/job")
			}
			b.ReportMetric(spent[2]/spent[0], "ratio")
			b.ReportMetric(spent[2]/spent[1], "ratio-next")
		})
	}
}

// BenchmarkQueueRedisCost measures what a job costs the Redis server,
// the notification service's shape without its other packages: 32
// producers enqueue no-op jobs that 16 consumers take and acknowledge
// (ours with a Next loop, asynq's handlers), interleaved round by round on
// one Redis. It reports each one's jobs/s, the server's CPU time per job
// (INFO cpu, user + system: everything the server did, so run it on a
// Redis of its own) and the scripts it ran per job (EVAL and EVALSHA), and
// ratio (ours over asynq's jobs/s). Needs PATTERNS_REDIS_ADDR.
func BenchmarkQueueRedisCost(b *testing.B) {
	const rounds, costProducers, costConsumers = 3, 32, 16
	libs := []workLib{{"patterns", patternsWork(redisQueue, true)}, {"asynq", asynqWork}}
	per := max(b.N/(len(libs)*rounds), 1)
	spent := make([]float64, len(libs))
	cpu := make([]float64, len(libs))
	scripts := make([]float64, len(libs))
	stats := benchRedisClient(b)
	b.ResetTimer()
	for range rounds {
		for i, lib := range libs {
			w0 := redisServerWork(b, stats)
			spent[i] += float64(per) / workRateFrom(b, lib, costConsumers, per, costProducers)
			w := redisServerWork(b, stats).minus(w0)
			cpu[i] += w.cpu
			scripts[i] += w.scripts
		}
	}
	b.StopTimer()
	n := float64(per * rounds)
	for i, lib := range libs {
		b.ReportMetric(n/spent[i], lib.name+"-jobs/s")
		b.ReportMetric(cpu[i]*1e6/n, lib.name+"-redis-cpu-µs/job")
		b.ReportMetric(scripts[i]/n, lib.name+"-scripts/job")
	}
	b.ReportMetric(spent[1]/spent[0], "ratio")
}

// redisCommandUsec is the time the server has spent in top-level commands
// (scripts with their commands inside, BLPOP, ...) since its stats were
// last reset, in µs, from INFO commandstats.
func redisCommandUsec(b *testing.B, c *redis.Client) float64 {
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(info, "\n") {
		_, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_info:") {
			continue
		}
		for _, f := range strings.Split(stats, ",") {
			if v, ok := strings.CutPrefix(f, "usec="); ok {
				u, _ := strconv.ParseFloat(v, 64)
				total += u
			}
		}
	}
	return total
}

// BenchmarkQueueCriticalLatency measures a Critical job's end-to-end
// latency, from Enqueue to its (simulated) send completing, with 16
// consumers whose every send takes 10ms: idle, and under a saturating flood
// of Normal jobs (four producers keep about 500 queued, so every consumer
// is always busy). The target: a loaded p99 at most twice the idle
// p99, since a critical job then waits for at most one send to finish. An
// op is one Critical job; they are enqueued 20ms apart. backlog is the
// mean number of Normal jobs queued when a Critical one was enqueued.
func BenchmarkQueueCriticalLatency(b *testing.B) {
	for _, backend := range []struct {
		name string
		new  func(b *testing.B) queue.Queue
	}{{"memory", memoryQueue}, {"redis", redisQueue}} {
		for _, loaded := range []bool{false, true} {
			name := backend.name + "/idle"
			if loaded {
				name = backend.name + "/loaded"
			}
			b.Run(name, func(b *testing.B) { criticalLatency(b, backend.new(b), loaded) })
		}
	}
}

func criticalLatency(b *testing.B, q queue.Queue, loaded bool) {
	const consumers, backlog, send, spacing = 16, 500, 10 * time.Millisecond, 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		latencies []time.Duration
		normals   atomic.Int64 // enqueued and not yet dequeued
		seen      int64        // sum of normals at each critical enqueue
	)
	want := b.N
	all := make(chan struct{})
	for range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				d, err := q.Dequeue(ctx)
				if err != nil {
					return
				}
				if d.Priority != queue.Critical {
					normals.Add(-1)
				}
				time.Sleep(send)
				if d.Priority == queue.Critical {
					sent := time.Unix(0, int64(binary.BigEndian.Uint64(d.Payload)))
					mu.Lock()
					latencies = append(latencies, time.Since(sent))
					if len(latencies) == want {
						close(all)
					}
					mu.Unlock()
				}
				_ = q.Ack(context.Background(), d)
			}
		}()
	}
	var flood atomic.Int64
	if loaded {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if normals.Load() >= backlog {
						time.Sleep(time.Millisecond)
						continue
					}
					normals.Add(1)
					if err := q.Enqueue(ctx, queue.Job{ID: "n" + strconv.FormatInt(flood.Add(1), 10)}); err != nil {
						normals.Add(-1)
					}
				}
			}()
		}
		for deadline := time.Now().Add(5 * time.Second); normals.Load() < backlog*9/10 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		seen += normals.Load()
		p := make([]byte, 8)
		binary.BigEndian.PutUint64(p, uint64(time.Now().UnixNano()))
		if err := q.Enqueue(ctx, queue.Job{ID: "c" + strconv.Itoa(i), Priority: queue.Critical, Payload: p}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(spacing)
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatal("criticals not all delivered after a minute")
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	_ = q.Close()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())
	}
	b.ReportMetric(pct(0.5), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(seen)/float64(b.N), "backlog")
}

// BenchmarkQueueRedisTargets is issue 13's shape for the queue: a Next
// loop of g consumers and four producers, on one Redis and on the
// 3-master Cluster (PATTERNS_REDIS_ADDR, PATTERNS_REDIS_CLUSTER), at g = 1,
// 16 and 64, with jobs/s and allocations per job (producers and
// consumers together).
func BenchmarkQueueRedisTargets(b *testing.B) {
	for _, target := range pipeTargets(b) {
		newQueue := func(b *testing.B) queue.Queue {
			q, err := queue.NewRedis(pipeClient(b, target), queue.WithPrefix(benchPrefixFor("queue")),
				queue.WithName(fmt.Sprintf("targets-%d", benchRun.Add(1))))
			if err != nil {
				b.Fatal(err)
			}
			return q
		}
		lib := workLib{"patterns-next", patternsWork(newQueue, true)}
		for _, g := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/g=%d", target, g), func(b *testing.B) { runWork(b, lib, g) })
		}
	}
}
