package saga

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// timedLog is a Log whose every call must return within bound (+redistest.Slack).
type timedLog struct {
	Log
	t     *testing.T
	who   string
	bound time.Duration
}

func (l timedLog) check(what string, start time.Time) {
	if d, late := redistest.Late(start, l.bound); late {
		l.t.Errorf("%s: %s took %v, bound %v (+%v)", l.who, what, d, l.bound, redistest.Slack)
	}
}

func (l timedLog) Claim(ctx context.Context, saga, id string, lease time.Duration, entries []Entry) (Claim, error) {
	defer l.check("Claim", time.Now())
	return l.Log.Claim(ctx, saga, id, lease, entries)
}

func (l timedLog) Append(ctx context.Context, saga, id string, token int64, lease time.Duration, entries []Entry) error {
	defer l.check("Append", time.Now())
	return l.Log.Append(ctx, saga, id, token, lease, entries)
}

func (l timedLog) Renew(ctx context.Context, saga, id string, token int64, lease time.Duration) error {
	defer l.check("Renew", time.Now())
	return l.Log.Renew(ctx, saga, id, token, lease)
}

func (l timedLog) Load(ctx context.Context, saga, id string) (*Record, error) {
	defer l.check("Load", time.Now())
	return l.Log.Load(ctx, saga, id)
}

func (l timedLog) Abandoned(ctx context.Context, saga string, max int) ([]string, error) {
	defer l.check("Abandoned", time.Now())
	return l.Log.Abandoned(ctx, saga, max)
}

// faultRig is the order saga of the fault suite: reserve, charge, ship,
// each an effect in a ledger under its StepKey; ship fails for good when
// the order's Amount is odd, so that half the sagas compensate. An id
// with a gate holds charge until the gate opens.
type faultRig struct {
	l       *ledger
	mu      sync.Mutex
	gates   map[string]chan struct{}
	blocked chan string
}

func newFaultRig() *faultRig {
	return &faultRig{l: newLedger(), gates: map[string]chan struct{}{}, blocked: make(chan string, 16)}
}

func (g *faultRig) steps() []Step[order] {
	do := func(ctx context.Context, _ *order) error { g.l.do(StepKey(ctx)); return nil }
	undo := func(ctx context.Context, _ *order) error { g.l.undo(StepKey(ctx)); return nil }
	charge := func(ctx context.Context, o *order) error {
		info, _ := Info(ctx)
		g.mu.Lock()
		gate := g.gates[info.ID]
		g.mu.Unlock()
		if gate != nil && info.Attempt == 1 && !info.Compensating {
			g.blocked <- info.ID
			<-gate
		}
		return do(ctx, o)
	}
	ship := func(ctx context.Context, o *order) error {
		if o.Amount%2 == 1 {
			return Permanent(errInjected)
		}
		return do(ctx, o)
	}
	return []Step[order]{
		{Name: "reserve", Action: do, Compensate: undo},
		{Name: "charge", Action: charge, Compensate: undo},
		{Name: "ship", Action: ship, Compensate: undo},
	}
}

// outcome is what one Execute returned.
type outcome struct {
	res *Result[order]
	err error
}

// faultRun is one fault case: two "processes" (a default client and a
// ContextTimeoutEnabled one), each with its timed log, sharing a ledger
// and a clock for leases.
type faultRun struct {
	t      *testing.T
	srv    *redistest.Server
	g      *faultRig
	clock  *fakeClock
	sagas  []*Saga[order]
	mu     sync.Mutex
	out    map[string]outcome
	amount map[string]int
	next   int
}

// faultWindow is how long a fault that ends by itself (CLIENT PAUSE,
// DEBUG SLEEP) lasts: long enough for the calls made meanwhile to meet it.
const faultWindow = 700 * time.Millisecond

// stops reports whether the writes of sagas running while f lasts fail,
// so that they stop (Status Running) and are left to Recover: all but a
// fault the server answers through without losing anything.
func stops(f redistest.ServerFault) bool { return f.Effect != redistest.Answers || f.Lossy }

const faultBound = 100 * time.Millisecond

func newFaultRun(t *testing.T, f redistest.ServerFault) *faultRun {
	r := &faultRun{t: t, srv: f.Start(t), g: newFaultRig(), clock: newFakeClock(),
		out: map[string]outcome{}, amount: map[string]int{}}
	for _, kind := range []string{"default client", "ContextTimeoutEnabled"} {
		var copts []redistest.ClientOption
		if kind == "ContextTimeoutEnabled" {
			copts = append(copts, redistest.WithContextTimeouts())
		}
		c, _ := r.srv.Client(copts...)
		rl, err := NewRedisLog(c, WithTimeout(faultBound), WithShards(4))
		if err != nil {
			t.Fatal(err)
		}
		rl.testNow = r.clock.Now
		log := timedLog{Log: rl, t: t, who: kind, bound: faultBound}
		r.sagas = append(r.sagas, mustNew(t, "order", r.g.steps(), append([]Option{WithLog(log), WithLease(time.Minute)}, fastPolicies...)...))
	}
	return r
}

// newID returns a fresh saga id, prefix-n: its order's Amount is n, and
// process n%2 runs it.
func (r *faultRun) newID(prefix string) (string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	r.next++
	id := fmt.Sprintf("%s-%d", prefix, n)
	r.amount[id] = n
	return id, n
}

// execute runs a saga with a fresh id and records what Execute returned.
func (r *faultRun) execute(prefix string) string {
	id, n := r.newID(prefix)
	r.run(id, n)
	return id
}

func (r *faultRun) run(id string, n int) {
	res, err := r.sagas[n%2].Execute(context.Background(), id, order{ID: id, Amount: n})
	r.mu.Lock()
	r.out[id] = outcome{res, err}
	r.mu.Unlock()
}

func (r *faultRun) outcome(id string) outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out[id]
}

// hold starts n sagas whose charge step waits for release, and returns
// once all of them are waiting there.
func (r *faultRun) hold(n int) (release func(), done *sync.WaitGroup) {
	gate := make(chan struct{})
	done = &sync.WaitGroup{}
	for i := 0; i < n; i++ {
		id, k := r.newID("held")
		r.g.mu.Lock()
		r.g.gates[id] = gate
		r.g.mu.Unlock()
		done.Add(1)
		go func() { defer done.Done(); r.run(id, k) }()
		<-r.g.blocked
	}
	return func() { close(gate) }, done
}

// checker is a healthy log on the server, with the default timeout.
func (r *faultRun) checker() *RedisLog {
	c, _ := r.srv.Client()
	l, err := NewRedisLog(c, WithShards(4))
	if err != nil {
		r.t.Fatal(err)
	}
	l.testNow = r.clock.Now
	return l
}

// waitForRedis polls until the server answers again.
func (r *faultRun) waitForRedis() {
	c, _ := r.srv.Client()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatal("Redis did not answer within 10s of the fault's end")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recoverAll expires every lease and runs Recover (in a third process)
// until no saga is left running and Recover reports no error.
func (r *faultRun) recoverAll() {
	c, _ := r.srv.Client()
	l, err := NewRedisLog(c, WithShards(4))
	if err != nil {
		r.t.Fatal(err)
	}
	l.testNow = r.clock.Now
	s := mustNew(r.t, "order", r.g.steps(), append([]Option{WithLog(l)}, fastPolicies...)...)
	// A write a fault held up may land late (a frozen server applies
	// what it had queued when it resumes): go on until every saga is
	// finished or has no record.
	running := func() []string {
		var ids []string
		for id := range r.out {
			if rec, err := l.Load(context.Background(), "order", id); err == nil && rec.Status == Running {
				ids = append(ids, id)
			}
		}
		return ids
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.clock.Advance(2 * time.Minute)
		_, err := s.Recover(context.Background())
		left := running()
		if err == nil && len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("Recover: still %v running, err %v", left, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultsSaga puts a private redis-server through each fault while
// sagas run on it, from two processes: one on a default go-redis client,
// one on a ContextTimeoutEnabled client, both with a 100ms log timeout.
// Every log call must return within 100ms (+50ms), whatever the fault.
// Before the fault 4 sagas finish; 4 are held inside their charge step
// when it strikes and go on while it lasts; 6 more start while it lasts;
// 4 start after it. Then Recover (in a third process, leases expired)
// finishes what was left running. Without data loss, every saga that
// Execute started (or whose first write reached Redis) ends Completed or
// Compensated with each effect done exactly once, or undone exactly once;
// none that never reached Redis did anything. With data loss (a restart
// without persistence, FLUSHALL) the records the fault destroyed are gone
// — finished sagas run again if executed again, and the held ones' done
// steps stay done: the documented cost of running without persistence —
// and everything after the fault is exact again: the log recovers by
// itself.
func TestFaultsSaga(t *testing.T) {
	for _, f := range redistest.ServerFaults(faultWindow) {
		t.Run(f.Name, func(t *testing.T) {
			r := newFaultRun(t, f)
			for i := 0; i < 4; i++ {
				if id := r.execute("before"); r.outcome(id).res == nil || r.outcome(id).res.Status == Running {
					t.Fatalf("before the fault: %s: %+v (%v)", id, r.outcome(id), r.outcome(id).err)
				}
			}
			release, held := r.hold(4)

			f.Inject(r.srv)
			release()
			var during sync.WaitGroup
			for i := 0; i < 6; i++ {
				during.Add(1)
				go func() { defer during.Done(); r.execute("during") }()
			}
			held.Wait()
			during.Wait()
			if f.Heal != nil {
				f.Heal(r.srv)
			}
			r.waitForRedis()

			r.afterRecovery(f)
			r.recoverAll()
			r.check(f)
		})
	}
}

// afterRecovery runs 4 sagas once the fault is over: each must finish at
// once or, while the clients drop connections the fault broke, within a
// few tries (a try that failed is checked like every other saga).
func (r *faultRun) afterRecovery(f redistest.ServerFault) {
	deadline := time.Now().Add(10 * time.Second)
	for ok := 0; ok < 4; {
		id := r.execute("after")
		o := r.outcome(id)
		if o.res != nil && o.res.Status != Running {
			ok++
			continue
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: no recovery after the fault: %v", f.Name, o.err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// check asserts the state of every saga the run started.
func (r *faultRun) check(f redistest.ServerFault) {
	t := r.t
	l := r.checker()
	ctx := context.Background()
	recovered := 0
	for id, o := range r.out {
		keys := keysFor("order", id)
		if strings.HasPrefix(id, "held-") {
			// The held sagas met the fault: they stopped, or (a fault
			// that does not stop writes) finished.
			stopped := o.res != nil && o.res.Status == Running && o.err != nil
			if stopped != stops(f) {
				t.Errorf("%s: held saga %s: %+v, want stopped=%v", f.Name, id, o, stops(f))
			}
		}
		rec, err := l.Load(ctx, "order", id)
		lost := f.Lossy && (strings.HasPrefix(id, "before-") || strings.HasPrefix(id, "held-"))
		switch {
		case lost:
			// Gone with the data: documented, asserted, and the held
			// sagas' done steps stay done.
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %s survived the data loss: %+v %v", f.Name, id, rec, err)
			}
			if strings.HasPrefix(id, "held-") {
				if o.err == nil || o.res == nil || o.res.Status != Running {
					t.Errorf("%s: held saga %s: %+v", f.Name, id, o)
				}
				if f.Name == "flushall" && !errors.Is(o.err, ErrNotFound) {
					t.Errorf("%s: held saga %s stopped with %v, want ErrNotFound", f.Name, id, o.err)
				}
				r.g.l.mu.Lock()
				if r.g.l.state[keys[0]] != 1 {
					t.Errorf("%s: held saga %s: reserve state %d, want done and not undone", f.Name, id, r.g.l.state[keys[0]])
				}
				r.g.l.mu.Unlock()
			}
		case errors.Is(err, ErrNotFound):
			// Never reached Redis: Execute failed, nothing ran.
			if o.err == nil || (o.res != nil && o.res.Status != Running) {
				t.Errorf("%s: %s has no record, but Execute returned %+v", f.Name, id, o)
			}
			r.g.l.mu.Lock()
			for _, k := range keys {
				if r.g.l.applied[k] != 0 {
					t.Errorf("%s: %s has no record, but %s took effect", f.Name, id, k)
				}
			}
			r.g.l.mu.Unlock()
		case err != nil:
			t.Errorf("%s: load %s: %v", f.Name, id, err)
		default:
			if rec.Status != Completed && rec.Status != Compensated {
				t.Errorf("%s: %s ended %s", f.Name, id, rec.Status)
				continue
			}
			if o.res != nil && o.res.Status != Running && o.res.Status != rec.Status {
				t.Errorf("%s: %s: Execute said %s, the log %s", f.Name, id, o.res.Status, rec.Status)
			}
			if r.amount[id]%2 == 1 && rec.Status != Compensated {
				t.Errorf("%s: %s: ship fails, yet %s", f.Name, id, rec.Status)
			}
			if o.res == nil || o.res.Status == Running {
				recovered++
			}
			r.g.l.checkExactlyOnce(t, keys, rec.Status)
		}
	}
	if stops(f) && !f.Lossy && recovered < 4 {
		t.Errorf("%s: Recover finished %d sagas, want at least the 4 held ones", f.Name, recovered)
	}
	if f.Lossy {
		r.rerunAfterLoss(f)
	}
}

// rerunAfterLoss: a finished saga whose record was lost runs again when
// executed again; its idempotent steps keep every effect exact.
func (r *faultRun) rerunAfterLoss(f redistest.ServerFault) {
	for id, o := range r.out {
		if !strings.HasPrefix(id, "before-") {
			continue
		}
		res, _ := r.sagas[0].Execute(context.Background(), id, order{ID: id, Amount: r.amount[id]})
		if res == nil || res.Replayed || res.Status != o.res.Status {
			r.t.Errorf("%s: re-run of %s: %+v, first run %s", f.Name, id, res, o.res.Status)
			continue
		}
		r.g.l.checkExactlyOnce(r.t, keysFor("order", id), res.Status)
	}
}
