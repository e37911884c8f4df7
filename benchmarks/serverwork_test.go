package benchmarks

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// serverWork is what the Redis servers behind a client have done so far,
// summed over a Cluster's masters: their CPU (user and system, seconds,
// INFO cpu), the scripts they ran (EVAL and EVALSHA calls) and the time
// spent in them (µs, INFO commandstats). It counts everything the servers
// did, so a benchmark that reads it runs on servers of its own.
type serverWork struct{ cpu, scripts, scriptUsec float64 }

func (w serverWork) minus(o serverWork) serverWork {
	return serverWork{w.cpu - o.cpu, w.scripts - o.scripts, w.scriptUsec - o.scriptUsec}
}

// cpuTime is the CPU as a Duration.
func (w serverWork) cpuTime() time.Duration { return time.Duration(w.cpu * float64(time.Second)) }

func redisServerWork(b testing.TB, c redis.UniversalClient) serverWork {
	var mu sync.Mutex
	var total serverWork
	add := func(ctx context.Context, n *redis.Client) error {
		info, err := n.Info(ctx, "cpu", "commandstats").Result()
		if err != nil {
			return err
		}
		w := parseServerWork(info)
		mu.Lock()
		defer mu.Unlock()
		total = serverWork{total.cpu + w.cpu, total.scripts + w.scripts, total.scriptUsec + w.scriptUsec}
		return nil
	}
	ctx := context.Background()
	var err error
	switch c := c.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, add)
	case *redis.Client:
		err = add(ctx, c)
	default:
		b.Fatalf("unexpected client %T", c)
	}
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// parseServerWork reads one server's INFO cpu and commandstats reply.
func parseServerWork(info string) serverWork {
	var w serverWork
	for _, line := range strings.Split(info, "\n") {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch name {
		case "used_cpu_user", "used_cpu_sys":
			x, _ := strconv.ParseFloat(value, 64)
			w.cpu += x
		case "cmdstat_evalsha", "cmdstat_eval":
			for _, f := range strings.Split(value, ",") {
				k, v, _ := strings.Cut(f, "=")
				x, _ := strconv.ParseFloat(v, 64)
				switch k {
				case "calls":
					w.scripts += x
				case "usec":
					w.scriptUsec += x
				}
			}
		}
	}
	return w
}

func TestParseServerWork(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:2.25\r\nused_cpu_sys_children:9\r\n" +
		"# Commandstats\r\ncmdstat_evalsha:calls=10,usec=200,usec_per_call=20.00\r\n" +
		"cmdstat_eval:calls=2,usec=30,usec_per_call=15.00\r\ncmdstat_get:calls=99,usec=99\r\n"
	if got, want := parseServerWork(info), (serverWork{cpu: 3.75, scripts: 12, scriptUsec: 230}); got != want {
		t.Fatalf("parseServerWork = %+v, want %+v", got, want)
	}
}
