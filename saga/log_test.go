package saga

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

func entry(k EntryKind, step int, data string) Entry {
	e := Entry{Kind: k, Step: step, Data: []byte(data), At: time.Unix(1_700_000_000, 123456789)}
	if step >= 0 {
		e.StepName = fmt.Sprint("step", step)
	}
	return e
}

// TestLogConformance runs one suite against every Log implementation, so
// that the memory and Redis logs cannot drift apart.
func TestLogConformance(t *testing.T) {
	eachLog(t, func(t *testing.T, newLog func() Log, clock *fakeClock, tg *redistest.Target) {
		ctx := context.Background()
		l := newLog()
		other := newLog() // a second process on the same log
		const lease = time.Minute

		t.Run("claim creates", func(t *testing.T) {
			c, err := l.Claim(ctx, "s", "a", lease, []Entry{entry(Started, -1, `{"x":1}`), entry(StepBegun, 0, `{"x":1}`)})
			if err != nil || !c.Created || c.Token != 1 || c.Record != nil {
				t.Fatalf("claim: %+v %v", c, err)
			}
			rec, err := other.Load(ctx, "s", "a")
			if err != nil || rec.Status != Running || len(rec.Entries) != 2 || rec.Saga != "s" || rec.ID != "a" {
				t.Fatalf("load: %+v %v", rec, err)
			}
			e := rec.Entries[1]
			if e.Kind != StepBegun || e.Step != 0 || e.StepName != "step0" || string(e.Data) != `{"x":1}` || !e.At.Equal(time.Unix(1_700_000_000, 123456789)) {
				t.Errorf("entry round trip: %+v", e)
			}
		})
		t.Run("claim of a running saga is refused", func(t *testing.T) {
			_, err := other.Claim(ctx, "s", "a", lease, []Entry{entry(Started, -1, `{}`)})
			if !errors.Is(err, ErrRunning) {
				t.Fatalf("err = %v, want ErrRunning", err)
			}
		})
		t.Run("same id under another saga name is another saga", func(t *testing.T) {
			c, err := other.Claim(ctx, "s2", "a", lease, []Entry{entry(Started, -1, `{}`)})
			if err != nil || !c.Created {
				t.Fatalf("claim: %+v %v", c, err)
			}
		})
		t.Run("append and renew check the token", func(t *testing.T) {
			if err := l.Append(ctx, "s", "a", 1, lease, []Entry{entry(StepDone, 0, `{"x":2}`)}); err != nil {
				t.Fatal(err)
			}
			if err := l.Append(ctx, "s", "a", 7, lease, []Entry{entry(StepDone, 0, `{}`)}); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("wrong token: %v", err)
			}
			if err := l.Renew(ctx, "s", "a", 1, lease); err != nil {
				t.Fatal(err)
			}
			if err := l.Renew(ctx, "s", "a", 2, lease); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("renew with wrong token: %v", err)
			}
			if err := l.Append(ctx, "s", "nope", 1, lease, nil); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
			if _, err := l.Load(ctx, "s", "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("load unknown: %v", err)
			}
			if _, err := l.Claim(ctx, "s", "nope", lease, nil); !errors.Is(err, ErrNotFound) {
				t.Fatalf("claim unknown without entries: %v", err)
			}
		})
		t.Run("abandoned lists expired leases only", func(t *testing.T) {
			ids, err := other.Abandoned(ctx, "s", 100)
			if err != nil || len(ids) != 0 {
				t.Fatalf("before expiry: %v %v", ids, err)
			}
			clock.Advance(30 * time.Second)
			if err := l.Renew(ctx, "s", "a", 1, lease); err != nil { // extends to now+lease
				t.Fatal(err)
			}
			clock.Advance(45 * time.Second) // 75s after the claim, 45s after the renewal
			if ids, _ := other.Abandoned(ctx, "s", 100); len(ids) != 0 {
				t.Fatalf("renewed lease counted as expired: %v", ids)
			}
			clock.Advance(15 * time.Second)
			ids, err = other.Abandoned(ctx, "s", 100)
			if err != nil || len(ids) != 1 || ids[0] != "a" {
				t.Fatalf("after expiry: %v %v", ids, err)
			}
		})
		t.Run("takeover of an expired lease", func(t *testing.T) {
			c, err := other.Claim(ctx, "s", "a", lease, []Entry{entry(Started, -1, `{}`)})
			if err != nil || c.Created || c.Token != 2 || c.Record == nil {
				t.Fatalf("takeover: %+v %v", c, err)
			}
			if len(c.Record.Entries) != 3 || c.Record.Status != Running || string(c.Record.Entries[2].Data) != `{"x":2}` {
				t.Fatalf("record %+v", c.Record)
			}
			if err := l.Append(ctx, "s", "a", 1, lease, []Entry{entry(StepBegun, 1, `{}`)}); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("old owner wrote: %v", err)
			}
			if ids, _ := other.Abandoned(ctx, "s", 100); len(ids) != 0 {
				t.Fatalf("taken-over saga still abandoned: %v", ids)
			}
			if _, err := l.Claim(ctx, "s", "a", lease, nil); !errors.Is(err, ErrRunning) {
				t.Fatalf("claim of the new lease: %v", err)
			}
		})
		t.Run("finish", func(t *testing.T) {
			fin := entry(Finished, -1, `{"x":3}`)
			fin.Status, fin.Err, fin.StepName = Compensated, "declined", "step1"
			if err := other.Append(ctx, "s", "a", 2, lease, []Entry{entry(CompensationDone, 0, `{"x":3}`), fin}); err != nil {
				t.Fatal(err)
			}
			rec, err := l.Load(ctx, "s", "a")
			if err != nil || rec.Status != Compensated || len(rec.Entries) != 5 {
				t.Fatalf("load: %+v %v", rec, err)
			}
			if last := rec.Entries[4]; last.Status != Compensated || last.Err != "declined" || last.StepName != "step1" {
				t.Errorf("finished entry %+v", last)
			}
			if err := other.Append(ctx, "s", "a", 2, lease, nil); !errors.Is(err, ErrFinished) {
				t.Fatalf("write after finish: %v", err)
			}
			if err := l.Renew(ctx, "s", "a", 1, lease); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("stale renew after finish: %v", err)
			}
			c, err := l.Claim(ctx, "s", "a", lease, []Entry{entry(Started, -1, `{}`)})
			if err != nil || c.Created || c.Token != 0 || c.Record == nil || c.Record.Status != Compensated {
				t.Fatalf("claim of finished: %+v %v", c, err)
			}
			clock.Advance(10 * time.Minute)
			if ids, _ := other.Abandoned(ctx, "s", 100); len(ids) != 0 {
				t.Fatalf("finished saga listed as abandoned: %v", ids)
			}
		})
		t.Run("claim that finishes at once", func(t *testing.T) {
			fin := entry(Finished, -1, `{}`)
			fin.Status = Completed
			c, err := l.Claim(ctx, "s", "quick", lease, []Entry{entry(Started, -1, `{}`), fin})
			if err != nil || !c.Created {
				t.Fatal(err)
			}
			rec, err := other.Load(ctx, "s", "quick")
			if err != nil || rec.Status != Completed {
				t.Fatalf("%+v %v", rec, err)
			}
		})
		t.Run("abandoned across shards, bounded by max", func(t *testing.T) {
			for i := 0; i < 20; i++ {
				if _, err := l.Claim(ctx, "many", fmt.Sprint("id-", i), lease, []Entry{entry(Started, -1, `{}`)}); err != nil {
					t.Fatal(err)
				}
			}
			clock.Advance(2 * lease)
			ids, err := other.Abandoned(ctx, "many", 100)
			if err != nil || len(ids) != 20 {
				t.Fatalf("got %d ids, %v", len(ids), err)
			}
			sort.Strings(ids)
			if ids[0] != "id-0" || ids[19] != "id-9" {
				t.Errorf("ids %v", ids)
			}
			if ids, _ := other.Abandoned(ctx, "many", 7); len(ids) != 7 {
				t.Fatalf("max 7: got %d", len(ids))
			}
		})
		t.Run("finished sagas expire after the retention", func(t *testing.T) {
			if tg != nil && tg.Mini == nil {
				rl := l.(*RedisLog)
				ttl := tg.Client.PTTL(ctx, rl.keys("s", "a")[0]).Val()
				if ttl <= 0 || ttl > time.Hour {
					t.Fatalf("finished saga's TTL %s, want (0, 1h]", ttl)
				}
				return // a real server's clock cannot be moved
			}
			if tg != nil {
				tg.Advance(time.Hour + 11*time.Minute)
			}
			clock.Advance(time.Hour)
			if _, err := other.Load(ctx, "s", "a"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("after retention: %v", err)
			}
			c, err := l.Claim(ctx, "s", "a", lease, []Entry{entry(Started, -1, `{}`)})
			if err != nil || !c.Created {
				t.Fatalf("id reusable after retention: %+v %v", c, err)
			}
		})
	})
}
