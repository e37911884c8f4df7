package benchmarks

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/sysdesign/patterns/internal/redisx"
	"github.com/sysdesign/patterns/ratelimit"
)

// Token bucket decisions: ours pipelined, ours WithoutPipelining, and
// go-redis/redis_rate, one key per goroutine.
func BenchmarkPipeliningRateLimit(b *testing.B) {
	ctx := context.Background()
	limit := ratelimit.Limit{Rate: redisRate, Period: time.Second, Burst: benchBurst}
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			for _, lib := range []string{"patterns-pipelined", "patterns-unpipelined", "redis_rate"} {
				b.Run(fmt.Sprintf("target=%s/goroutines=%d/lib=%s", target, g, lib), func(b *testing.B) {
					c := pipeClient(b, target)
					keys := make([]string, g)
					for i := range keys {
						keys[i] = "k" + strconv.Itoa(i)
					}
					var allow func(key string) error
					if lib == "redis_rate" {
						lim := redis_rate.NewLimiter(c)
						l := redis_rate.Limit{Rate: redisRate, Burst: benchBurst, Period: time.Second}
						allow = func(k string) error { _, err := lim.Allow(ctx, k, l); return err }
					} else {
						// A 1s bound, not the default 100ms: on a loaded
						// machine a decision can take longer, which would
						// fail the benchmark rather than slow it.
						opts := []ratelimit.RedisOption{ratelimit.WithPrefix(benchPrefixFor("rl")), ratelimit.WithTimeout(time.Second)}
						if lib == "patterns-unpipelined" {
							opts = append(opts, ratelimit.WithoutPipelining())
						}
						lim, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, limit, opts...)
						if err != nil {
							b.Fatal(err)
						}
						allow = func(k string) error { _, err := lim.Allow(ctx, k); return err }
					}
					if err := allow("warm"); err != nil {
						b.Fatal(err)
					}
					concurrently(b, g, "decisions/s", func(w int) error { return allow(keys[w]) })
				})
			}
		}
	}
}

// The same decisions, ours pipelined and redis_rate interleaved in five
// rounds within one benchmark (each going first in turn), reporting each
// one's decisions/s and their ratio: on a shared, noisy machine the ratio
// of two runs made seconds apart is what holds still. Issue 13's targets
// are this ratio: at least 3 at 64 goroutines, 0.9 at 1 (and no
// regression at 16).
//
// It also reports where the time goes, per decision: the allocations of
// each side (-allocs/op), the server CPU each side costs (-server-us/op,
// from INFO cpu summed over the target's masters: what bounds a Redis
// that has a core to itself), the CPU of this process (-client-us/op,
// from /proc/self/stat where there is one, in 10ms ticks: on a machine
// whose cores are all busy, client and server CPU together are what the
// ratio measures), each side's call latency (-p50-us, -p99-us) and how
// many of our calls ride one pipeline (calls/pipeline), and how many
// script calls each side's decision costs Redis (-scripts/op: below 1
// when a pipeline's decisions go as one script call).
//
//	cd benchmarks && ../scripts/with-redis.sh go test -run '^$' -bench 'PipeliningRateLimitRatio' -benchtime 20000x -count 3
func BenchmarkPipeliningRateLimitRatio(b *testing.B) {
	ctx := context.Background()
	limit := ratelimit.Limit{Rate: redisRate, Period: time.Second, Burst: benchBurst}
	for _, target := range pipeTargets(b) {
		for _, g := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("target=%s/goroutines=%d", target, g), func(b *testing.B) {
				c := pipeClient(b, target)
				keys := make([]string, g)
				for i := range keys {
					keys[i] = "k" + strconv.Itoa(i)
				}
				ours, err := ratelimit.NewRedis(c, ratelimit.TokenBucket, limit, ratelimit.WithPrefix(benchPrefixFor("rl")), ratelimit.WithTimeout(time.Second))
				if err != nil {
					b.Fatal(err)
				}
				theirs := redis_rate.NewLimiter(c)
				theirLimit := redis_rate.Limit{Rate: redisRate, Burst: benchBurst, Period: time.Second}
				libs := []func(key string) error{
					func(k string) error { _, err := ours.Allow(ctx, k); return err },
					func(k string) error { _, err := theirs.Allow(ctx, k, theirLimit); return err },
				}
				for _, allow := range libs {
					if err := allow("warm"); err != nil {
						b.Fatal(err)
					}
				}
				const rounds = 5
				per := max(b.N/rounds, 1)
				var took [2]time.Duration
				var mallocs [2]uint64
				var serverCPU, clientCPU [2]time.Duration
				var scripts [2]float64
				// Each call's latency, by side, allocated before the clock
				// and the allocation count start.
				lat := [2][]time.Duration{make([]time.Duration, 0, per*rounds), make([]time.Duration, 0, per*rounds)}
				runLat := make([]time.Duration, per)
				pipes0, piped0 := redisx.PipelineStats(c)
				b.ResetTimer()
				for round := range rounds {
					for j := range libs {
						i := (j + round) % len(libs) // each side goes first in turn
						cpu0 := redisServerWork(b, c)
						m0 := mallocCount()
						own0 := processCPUTime()
						took[i] += timedConcurrently(b, g, per, runLat, func(w int) error { return libs[i](keys[w]) })
						clientCPU[i] += processCPUTime() - own0
						mallocs[i] += mallocCount() - m0
						lat[i] = append(lat[i], runLat...)
						work := redisServerWork(b, c).minus(cpu0)
						serverCPU[i] += work.cpuTime()
						scripts[i] += work.scripts
					}
				}
				b.StopTimer()
				pipes, piped := redisx.PipelineStats(c)
				n := float64(per * rounds)
				oursRate, theirRate := n/took[0].Seconds(), n/took[1].Seconds()
				b.ReportMetric(oursRate, "patterns/s")
				b.ReportMetric(theirRate, "redis_rate/s")
				b.ReportMetric(oursRate/theirRate, "ratio")
				b.ReportMetric(float64(mallocs[0])/n, "patterns-allocs/op")
				b.ReportMetric(float64(mallocs[1])/n, "redis_rate-allocs/op")
				b.ReportMetric(float64(serverCPU[0].Microseconds())/n, "patterns-server-us/op")
				b.ReportMetric(float64(serverCPU[1].Microseconds())/n, "redis_rate-server-us/op")
				b.ReportMetric(float64(clientCPU[0].Microseconds())/n, "patterns-client-us/op")
				b.ReportMetric(float64(clientCPU[1].Microseconds())/n, "redis_rate-client-us/op")
				for i, side := range []string{"patterns", "redis_rate"} {
					b.ReportMetric(scripts[i]/n, side+"-scripts/op")
					slices.Sort(lat[i])
					b.ReportMetric(float64(lat[i][len(lat[i])/2].Nanoseconds())/1e3, side+"-p50-us")
					b.ReportMetric(float64(lat[i][len(lat[i])*99/100].Nanoseconds())/1e3, side+"-p99-us")
				}
				if pipes > pipes0 {
					b.ReportMetric(float64(piped-piped0)/float64(pipes-pipes0), "calls/pipeline")
				} else {
					b.ReportMetric(0, "calls/pipeline")
				}
			})
		}
	}
}

// mallocCount is the process's heap allocations so far.
func mallocCount() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// processCPUTime is the CPU time (user + system, all threads) this process
// has used so far, from /proc/self/stat (in ticks of 1/100 s); 0 where
// there is no /proc.
func processCPUTime() time.Duration {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses: utime
	// and stime are the 12th and 13th of them.
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 {
		return 0
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return 0
	}
	var ticks int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// timedConcurrently makes n calls in all from g goroutines and returns how
// long they took, each call's latency in lat (len n).
func timedConcurrently(b *testing.B, g, n int, lat []time.Duration, call func(w int) error) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := next.Add(1); k <= int64(n); k = next.Add(1) {
				t0 := time.Now()
				if err := call(w); err != nil {
					b.Error(err)
					return
				}
				lat[k-1] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}
