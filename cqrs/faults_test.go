package cqrs

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// faultWindow is how long a fault that ends by itself (CLIENT PAUSE,
// DEBUG SLEEP) lasts: long enough for the calls made meanwhile to meet it.
const faultWindow = 700 * time.Millisecond

const (
	faultTimeout = 100 * time.Millisecond
	faultBlock   = 20 * time.Millisecond
)

// timedStore is a RedisStore whose every call must return within its
// bound (+redistest.Slack): the timeout; for Wait, the block interval plus it.
type timedStore struct {
	*RedisStore
	t   *testing.T
	who string
}

func (s timedStore) check(what string, bound time.Duration, start time.Time) {
	if d, late := redistest.Late(start, bound); late {
		s.t.Errorf("%s: %s took %v, bound %v (+%v)", s.who, what, d, bound, redistest.Slack)
	}
}

func (s timedStore) Append(ctx context.Context, id string, exp int64, evs ...Event) (int64, error) {
	defer s.check("Append", faultTimeout, time.Now())
	return s.RedisStore.Append(ctx, id, exp, evs...)
}

func (s timedStore) Load(ctx context.Context, id string, from int64) ([]Event, error) {
	defer s.check("Load", faultTimeout, time.Now())
	return s.RedisStore.Load(ctx, id, from)
}

func (s timedStore) ReadAll(ctx context.Context, from int64, limit int) ([]Event, error) {
	defer s.check("ReadAll", faultTimeout, time.Now())
	return s.RedisStore.ReadAll(ctx, from, limit)
}

func (s timedStore) Head(ctx context.Context) (int64, error) {
	defer s.check("Head", faultTimeout, time.Now())
	return s.RedisStore.Head(ctx)
}

func (s timedStore) Wait(ctx context.Context, after int64) error {
	defer s.check("Wait", faultBlock+faultTimeout, time.Now())
	return s.RedisStore.Wait(ctx, after)
}

// timedCheckpoint times a projection's Checkpoint, one Redis call for a
// RedisReadModel; Apply makes several and is left alone.
type timedCheckpoint struct {
	*RedisReadModel[int]
	t *testing.T
}

func (m timedCheckpoint) Checkpoint(ctx context.Context) (int64, error) {
	start := time.Now()
	defer func() {
		if d, late := redistest.Late(start, faultTimeout); late {
			m.t.Errorf("read model Checkpoint took %v, bound %v (+%v)", d, faultTimeout, redistest.Slack)
		}
	}()
	return m.RedisReadModel.Checkpoint(ctx)
}

// appendRec is one append of the suite: a deposit of n to stream acct-k,
// with event id e-n, and whether Append said it succeeded.
type appendRec struct {
	n      int
	stream string
	ok     bool
	phase  string
}

// cqrsFaultRun is one fault case: two "processes" (a default client and
// a ContextTimeoutEnabled one), each with a store; a RedisReadModel fed
// by a Runner on the first, a MemoryReadModel by a Runner on the second.
type cqrsFaultRun struct {
	t       *testing.T
	srv     *redistest.Server
	stores  []timedStore
	redisM  *RedisReadModel[int]
	memM    *MemoryReadModel[int]
	runners []*Runner
	stops   []func() error
	behind  atomic.Int32 // ErrStoreBehind reports of the memory model's runner

	mu      sync.Mutex
	appends map[string]*appendRec
	next    int
}

func newCQRSFaultRun(t *testing.T, f redistest.ServerFault) *cqrsFaultRun {
	r := &cqrsFaultRun{t: t, srv: f.Start(t), appends: map[string]*appendRec{}}
	for _, name := range []string{"default client", "ContextTimeoutEnabled"} {
		kind := clientKinds()[name]
		c, _ := r.srv.Client(kind.opts...)
		s, err := NewRedisStore(c, WithTimeout(faultTimeout), WithBlock(faultBlock))
		if err != nil {
			t.Fatal(err)
		}
		r.stores = append(r.stores, timedStore{RedisStore: s, t: t, who: name})
		if kind.opts == nil {
			if r.redisM, err = NewRedisReadModel(c, "balances", balances, WithTimeout(faultTimeout)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var err error
	if r.memM, err = NewMemoryReadModel("mem-balances", balances); err != nil {
		t.Fatal(err)
	}
	fast := WithRetryBackoff(time.Millisecond, 20*time.Millisecond)
	ra, err := NewRunner(r.stores[0], timedCheckpoint{r.redisM, t}, fast)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := NewRunner(r.stores[1], r.memM, fast, WithOnError(func(err error) error {
		if errors.Is(err, ErrStoreBehind) {
			r.behind.Add(1)
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	r.runners = []*Runner{ra, rb}
	r.stops = []func() error{runInBackground(t, ra), runInBackground(t, rb)}
	return r
}

// appendOne appends a deposit with a fresh id from one of the processes in
// turn, and records whether Append succeeded.
func (r *cqrsFaultRun) appendOne(phase string) *appendRec {
	r.mu.Lock()
	n := r.next
	r.next++
	a := &appendRec{n: n, stream: fmt.Sprint("acct-", n%5), phase: phase}
	r.appends[fmt.Sprint("e-", n)] = a
	r.mu.Unlock()
	r.try(a)
	return a
}

// try appends a's event (again, after an unknown outcome: the id makes a
// retry exact).
func (r *cqrsFaultRun) try(a *appendRec) {
	_, err := r.stores[a.n%2].Append(context.Background(), a.stream, AnyVersion, deposited(a.n).WithID(fmt.Sprint("e-", a.n)))
	r.mu.Lock()
	a.ok = err == nil
	r.mu.Unlock()
}

// waitForRedis polls until the server answers again.
func (r *cqrsFaultRun) waitForRedis() {
	c, _ := r.srv.Client()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatal("Redis did not answer within 10s of the fault's end")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFaultsCQRS puts a private redis-server through each fault while
// events are appended and two projections follow the log: a
// RedisReadModel (on a default client) and a MemoryReadModel (its runner
// on a ContextTimeoutEnabled client), every Redis call bounded by 100ms.
// Every store call must return within its bound (+50ms), whatever the
// fault. 30 appends succeed before the fault, 10 are made while it lasts,
// 10 must succeed after it; then every append whose outcome was unknown
// is retried with its event id. After that the log has no gap and no
// duplicate event id, every append that succeeded is in it (without
// persistence: every one since the loss; those before are gone), and both
// projections reach the state a single pass over the log gives — the
// memory one by a rebuild when the store lost events it had applied.
func TestFaultsCQRS(t *testing.T) {
	for _, f := range redistest.ServerFaults(faultWindow) {
		t.Run(f.Name, func(t *testing.T) {
			r := newCQRSFaultRun(t, f)
			for i := 0; i < 30; i++ {
				a := r.appendOne("before")
				// A healthy server can still miss the 100ms bound when the
				// machine is loaded (a -race run beside others): retry, as
				// exact as any retry thanks to the event id.
				for retry := 0; !a.ok && retry < 3; retry++ {
					r.try(a)
				}
				if !a.ok {
					t.Fatalf("append %d before the fault failed 4 times", a.n)
				}
			}
			r.caughtUp("before the fault")

			f.Inject(r.srv)
			var during sync.WaitGroup
			for i := 0; i < 10; i++ {
				during.Add(1)
				go func() { defer during.Done(); r.appendOne("during") }()
			}
			during.Wait()
			if f.Heal != nil {
				f.Heal(r.srv)
			}
			r.waitForRedis()

			deadline := time.Now().Add(10 * time.Second)
			for ok := 0; ok < 10; {
				if r.appendOne("after").ok {
					ok++
				} else if time.Now().After(deadline) {
					t.Fatalf("%s: appends still fail 10s after the fault", f.Name)
				}
			}
			for _, a := range r.appends {
				for !a.ok {
					r.try(a)
					if time.Now().After(deadline) {
						t.Fatalf("%s: retry of e-%d still fails", f.Name, a.n)
					}
				}
			}
			r.checkLog(f)
			r.caughtUp("after the fault")
			if f.Lossy && r.behind.Load() == 0 {
				t.Errorf("%s: the memory model's runner never reported ErrStoreBehind", f.Name)
			}
			for _, stop := range r.stops {
				if err := stop(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// checkLog asserts the log: positions 1..head without a gap, versions
// 1..n per stream, no event id twice, and every append that succeeded
// (since the data loss, for a lossy fault) present.
func (r *cqrsFaultRun) checkLog(f redistest.ServerFault) {
	t := r.t
	all := readAll(t, r.stores[0])
	ids := map[string]Event{}
	versions := map[string]int64{}
	for i, e := range all {
		if e.Position != int64(i+1) {
			t.Fatalf("%s: event %d has position %d: a gap", f.Name, i+1, e.Position)
		}
		if e.Version != versions[e.StreamID]+1 {
			t.Errorf("%s: %s@%d follows version %d", f.Name, e.StreamID, e.Version, versions[e.StreamID])
		}
		versions[e.StreamID] = e.Version
		if _, dup := ids[e.ID()]; dup {
			t.Errorf("%s: event id %s twice", f.Name, e.ID())
		}
		ids[e.ID()] = e
	}
	for id, a := range r.appends {
		_, there := ids[id]
		switch {
		case f.Lossy && a.phase == "before":
			if there {
				t.Errorf("%s: %s survived the data loss", f.Name, id)
			}
		case !there:
			t.Errorf("%s: %s (%s) was acknowledged but is not in the log", f.Name, id, a.phase)
		case ids[id].StreamID != a.stream:
			t.Errorf("%s: %s is in %s, appended to %s", f.Name, id, ids[id].StreamID, a.stream)
		}
	}
	want := len(r.appends)
	if f.Lossy {
		want -= 30
	}
	if len(all) != want {
		t.Errorf("%s: the log holds %d events, want %d", f.Name, len(all), want)
	}
}

// caughtUp waits until both projections have applied the whole log and
// hold what a single pass over it gives.
func (r *cqrsFaultRun) caughtUp(when string) {
	t := r.t
	ctx := context.Background()
	single, err := NewMemoryReadModel("single-pass", balances)
	if err != nil {
		t.Fatal(err)
	}
	one, err := NewRunner(r.stores[0].RedisStore, single)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.CatchUp(ctx); err != nil {
		t.Fatalf("%s: single pass: %v", when, err)
	}
	want, _ := single.All(ctx)
	c, _ := r.srv.Client()
	reader, err := NewRedisReadModel(c, "balances", balances)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		gotRedis, err := reader.All(ctx)
		gotMem, _ := r.memM.All(ctx)
		if err == nil && reflect.DeepEqual(gotRedis, want) && reflect.DeepEqual(gotMem, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: projections did not reach the single pass's state within 10s:\n redis %v (%v)\n mem   %v\n want  %v",
				when, gotRedis, err, gotMem, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
