package saga

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// Issue 12, defect 10: the saga name "a:0}:h:X" put its id "J" at
// P{a:0}:h:X:0}:h:J, the key of saga "a"'s execution "X:0}:h:J": Execute
// found that saga's record, returned nil with Status Running and ran
// nothing. A name with a brace must be refused, by New and by the log
// itself, and the other saga's record left alone.
func TestSagaNameCannotReachAnotherSagasRecord(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		l, err := NewRedisLog(tg.Client, WithPrefix(tg.Prefix), WithShards(1))
		if err != nil {
			t.Fatal(err)
		}
		victimID := "X:0}:h:J"
		release := make(chan struct{})
		running := make(chan struct{})
		victim := mustNew(t, "a", []Step[order]{{Name: "hold", Action: func(context.Context, *order) error {
			close(running)
			<-release
			return nil
		}}}, WithLog(l))
		done := make(chan error, 1)
		go func() { _, err := victim.Execute(ctx, victimID, order{}); done <- err }()
		<-running
		defer func() {
			close(release)
			if err := <-done; err != nil {
				t.Errorf("victim saga: %v", err)
			}
		}()

		ran := false
		_, err = New("a:0}:h:X", []Step[order]{{Name: "s", Action: func(context.Context, *order) error {
			ran = true
			return nil
		}}}, WithLog(l))
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("New with a braced name: err = %v, want ErrInvalidConfig", err)
		}
		if ran {
			t.Fatal("a step ran")
		}
		// The log refuses it too, for callers that use it directly.
		if _, err := l.Claim(ctx, "a:0}:h:X", "J", time.Minute, []Entry{{Kind: Started, Step: -1, Data: []byte("{}")}}); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Claim with a braced name: err = %v, want ErrInvalidConfig", err)
		}
		if _, err := l.Load(ctx, "a:0}:h:X", "J"); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Load with a braced name: err = %v, want ErrInvalidConfig", err)
		}
		if _, err := l.Abandoned(ctx, "{a:0}", 10); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Abandoned with a braced name: err = %v, want ErrInvalidConfig", err)
		}
		rec, err := l.Load(ctx, "a", victimID)
		if err != nil || rec.Status != Running || len(rec.Entries) != 2 {
			t.Fatalf("victim's record: %+v, %v", rec, err)
		}
	})
}

// Every name and id that reaches a RedisLog key: keys of different
// (saga, id) pairs differ, each saga's keys carry the hash tag
// {saga:shard} the log chose (braces anywhere in an id change nothing),
// and on a cluster they share that tag's slot.
func TestRedisLogKeysAreDistinctAndTaggedByTheLog(t *testing.T) {
	l, err := NewRedisLog(dummyClient(), WithPrefix("p:"), WithShards(4))
	if err != nil {
		t.Fatal(err)
	}
	pairs := [][2]string{
		{"a", "b"}, {"a", "b:0}:h:c"}, {"a:0", "b"}, {"a", "0}:h:b"}, {"a", "{b}"}, {"a", "}"},
		{"a", "h:b"}, {"a", "run"}, {"a", ""}, {"a:b", "c"}, {"a", "b:c"}, {"run", "x"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		for i, k := range l.keys(p[0], p[1]) {
			if i == 2 {
				continue // the shard's index is shared by design
			}
			if other, dup := seen[k]; dup {
				t.Errorf("key %q names both %v and %v", k, other, p)
			}
			seen[k] = p
			tag := k[strings.IndexByte(k, '{')+1 : strings.IndexByte(k, '}')]
			if want := p[0] + ":"; !strings.HasPrefix(tag, want) || strings.ContainsAny(tag[len(want):], ":{") {
				t.Errorf("key %q of %v: hash tag %q, want %s<shard>", k, p, tag, want)
			}
		}
	}
}

// Names that could make a hash tag of a log key, or make StepKey
// ambiguous, are refused: with '/' allowed, saga "a" id "b/c" step "d"
// and saga "a" id "b" step "c/d" would share the idempotency key
// "a/b/c/d". Names that are merely unusual are fine.
func TestSagaAndStepNamesValidated(t *testing.T) {
	step := func(name string) []Step[order] { return []Step[order]{{Name: name, Action: noop}} }
	for name, c := range map[string]struct {
		saga, step string
	}{
		"open brace in saga":  {"a{b", "s"},
		"close brace in saga": {"a}b", "s"},
		"slash in saga":       {"a/b", "s"},
		"slash in step":       {"a", "s/t"},
		"tagged saga":         {"{a}", "s"},
		"empty saga name":     {"", "s"},
	} {
		if _, err := New(c.saga, step(c.step)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New(%q) with step %q: err = %v, want ErrInvalidConfig", name, c.saga, c.step, err)
		}
	}
	for _, ok := range []string{"order", "order:v2", "ordre-été", "a b", "a.b"} {
		if _, err := New(ok, step("s:t")); err != nil {
			t.Errorf("New(%q): %v", ok, err)
		}
	}
}
