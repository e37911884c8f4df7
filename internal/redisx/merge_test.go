package redisx

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// scriptCalls counts the script commands a client sends, alone or in
// pipelines.
type scriptCalls struct{ n atomic.Int64 }

func (h *scriptCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd) {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *scriptCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if isScript(cmd) {
				h.n.Add(1)
			}
		}
		return next(ctx, cmds)
	}
}

// mergeScripts are a lone script and its merged form, fresh for each
// test (so the first pipeline meets NOSCRIPT): the lone one answers
// "l:key:arg", the merged one "m:shared:key:arg" per key, and an error
// reply for a key containing "BADKEY" (upper case: the random hex of a
// test's key prefix could spell "bad").
func mergeScripts(tg *redistest.Target) (lone *redis.Script, m *Merge) {
	lone = redis.NewScript("-- " + tg.Prefix + "\nreturn 'l:' .. KEYS[1] .. ':' .. ARGV[1]")
	merged := redis.NewScript("-- " + tg.Prefix + `
local out = {}
for i = 1, #KEYS do
  if string.find(KEYS[i], 'BADKEY', 1, true) then
    out[i] = redis.error_reply('BAD ' .. KEYS[i])
  else
    out[i] = 'm:' .. ARGV[1] .. ':' .. KEYS[i] .. ':' .. ARGV[1 + i]
  end
end
return out`)
	return lone, &Merge{Script: merged, Shared: []any{"s"}, PerCall: 1}
}

// One pipeline of calls of one Merge: the calls whose keys share a slot
// (all of them on one node) go as one script call, in order, each getting
// its own element; an error element fails its call alone; a call with no
// partner in its slot (Cluster) runs its own script; calls without a
// Merge are untouched. The scripts are new to the servers: the NOSCRIPT
// of the merged call is answered by a second pipeline, as for lone calls.
func TestPipelineMergesCallsOfOneMerge(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		count := &scriptCalls{}
		c.AddHook(count)
		lone, m := mergeScripts(tg)
		_, cluster := c.(*redis.ClusterClient)
		keys := []string{"{a}1", "{a}2", "{b}1", "{a}BADKEY", "{b}2", "{c}only", "{a}3"}
		p := new(coalescer)
		h, _ := p.claim(time.Time{})
		var batch []*call
		for i, k := range keys {
			w := getCall()
			w.ctx, w.client, w.script, w.merge = context.Background(), c, lone, m
			w.keys, w.args = []string{tg.Key(k)}, []any{strconv.Itoa(i), "ignored"}
			batch = append(batch, w)
		}
		plain := getCall() // no Merge: its own script, as before
		plain.ctx, plain.client, plain.script = context.Background(), c, lone
		plain.keys, plain.args = []string{tg.Key("{a}plain")}, []any{"p"}
		batch = append(batch, plain)
		calls := append([]*call(nil), batch...)
		p.drain(h, batch)
		for i, w := range calls[:len(keys)] {
			<-w.done
			got, err := w.cmd.Text()
			k := tg.Key(keys[i])
			switch {
			case strings.Contains(k, "BADKEY"):
				if err == nil || !strings.HasPrefix(err.Error(), "BAD "+k) {
					t.Fatalf("%s: %q, %v; want its own BAD error", k, got, err)
				}
			case cluster && strings.Contains(k, "only"):
				if want := "l:" + k + ":" + strconv.Itoa(i); err != nil || got != want {
					t.Fatalf("%s: %q, %v; want %q (alone in its slot)", k, got, err, want)
				}
			default:
				if want := "m:s:" + k + ":" + strconv.Itoa(i); err != nil || got != want {
					t.Fatalf("%s: %q, %v; want %q", k, got, err, want)
				}
			}
		}
		<-plain.done
		if got, err := plain.cmd.Text(); err != nil || got != "l:"+tg.Key("{a}plain")+":p" {
			t.Fatalf("call without a Merge: %q, %v", got, err)
		}
		// One node: the merged call and the plain one, each sent twice
		// (EVALSHA, then EVAL after NOSCRIPT). Cluster: {a}, {b}, {c}
		// alone, the plain one.
		want := int64(2 * 2)
		if cluster {
			want = 2 * 4
		}
		if got := count.n.Load(); got != want {
			t.Fatalf("%d script commands, want %d", got, want)
		}
	})
}

// A merged reply that is not one element per call fails each of the
// merged calls with ErrBadReply, never a panic or a wrong answer.
func TestMergedReplyOfTheWrongShape(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		for _, body := range []string{"return {'one'}", "return 'flat'"} {
			lone := redis.NewScript("return 'l'")
			m := &Merge{Script: redis.NewScript("-- " + tg.Prefix + "\n" + body)}
			p := new(coalescer)
			h, _ := p.claim(time.Time{})
			var batch []*call
			for i := range 3 {
				w := getCall()
				w.ctx, w.client, w.script, w.merge = context.Background(), c, lone, m
				w.keys = []string{tg.Key("{k}" + strconv.Itoa(i))}
				batch = append(batch, w)
			}
			calls := append([]*call(nil), batch...)
			p.drain(h, batch)
			for _, w := range calls {
				<-w.done
				if err := w.cmd.Err(); !errors.Is(err, ErrBadReply) {
					t.Fatalf("%s: %v, want ErrBadReply", body, err)
				}
			}
		}
	})
}

// Concurrent EvalMerged calls through bounds: each caller gets its own
// answer, merged or alone, with fewer script commands than calls.
func TestEvalMergedConcurrentCalls(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		count := &scriptCalls{}
		c.AddHook(count)
		lone, m := mergeScripts(tg)
		b := NewBound(c, 5*time.Second)
		const g, calls = 32, 20
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				key := tg.Key("{t}" + strconv.Itoa(w))
				for i := range calls {
					arg := strconv.Itoa(i)
					got, err := b.EvalMerged(context.Background(), c, lone, m, []string{key}, []any{arg}, nil).Text()
					if err != nil || (got != "l:"+key+":"+arg && got != "m:s:"+key+":"+arg) {
						t.Errorf("got %q, %v", got, err)
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		if n := count.n.Load(); n >= g*calls {
			t.Fatalf("%d script commands for %d calls: nothing merged", n, g*calls)
		}
	})
}

// Slot agrees with the Cluster's hash slots (values from the Redis
// Cluster specification and CLUSTER KEYSLOT).
func TestSlot(t *testing.T) {
	for key, want := range map[string]int{
		"123456789": 12739, "foo": 12182, "": 0,
		"{user1000}.following": Slot("user1000"), "foo{}{bar}": Slot("foo{}{bar}"),
		"foo{{bar}}": Slot("{bar"), "foo{bar}{zap}": Slot("bar"),
	} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
	if os.Getenv(redistest.EnvCluster) != "" {
		cc := redistest.New(t, redistest.Cluster).Client.(*redis.ClusterClient)
		for _, key := range []string{"a", "rl:tb2:1:1s:5:user:7", "{x}y", "z{}", "ü{é}"} {
			want, err := cc.ClusterKeySlot(context.Background(), key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := Slot(key); int64(got) != want {
				t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT %d", key, got, want)
			}
		}
	}
}
