package cqrs

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// With WithPrefetch a batch reads the values its handler needs in one
// HMGET, not one HGET each, and builds the same model; a key keyOf does
// not name is still read on demand.
func TestRedisReadModelPrefetch(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		s, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"a", "b", "c"} {
			mustAppend(t, s, id, AnyVersion, deposited(10))
		}
		plain, err := NewRedisReadModel(tg.Client, "plain", balances, WithPrefix(tg.Prefix))
		if err != nil {
			t.Fatal(err)
		}
		// keyOf names every stream but "c": c's value is read on demand.
		keyOf := func(e Event) (string, bool) { return e.StreamID, e.StreamID != "c" }
		fetched, err := NewRedisReadModel(tg.Client, "fetched", balances, WithPrefix(tg.Prefix), WithPrefetch(keyOf))
		if err != nil {
			t.Fatal(err)
		}
		counter := &redistest.CommandLog{}
		tg.Client.AddHook(counter)
		sent := map[*RedisReadModel[int]]map[string]int{}
		for round := range 3 {
			if round > 0 { // later batches find values to read
				for _, id := range []string{"a", "b", "c", "a"} {
					mustAppend(t, s, id, AnyVersion, deposited(1))
				}
			}
			for _, m := range []*RedisReadModel[int]{plain, fetched} {
				r, err := NewRunner(s, m)
				if err != nil {
					t.Fatal(err)
				}
				counter.Counts()
				if _, err := r.CatchUp(ctx); err != nil {
					t.Fatal(err)
				}
				sent[m] = counter.Counts()
			}
			// Both read their checkpoints alike (an HMGET); the plain model
			// reads each stream's value, the other only c's, plus one
			// HMGET for a and b.
			if p, f := sent[plain], sent[fetched]; round > 0 && (p["hget"] != 3 || f["hget"] != 1 || f["hmget"] != p["hmget"]+1) {
				t.Errorf("round %d: plain sent %d HGETs and %d HMGETs, prefetching %d and %d; want 3, n and 1, n+1",
					round, p["hget"], p["hmget"], f["hget"], f["hmget"])
			}
			want := map[string]int{"a": 10 + 2*round, "b": 10 + round, "c": 10 + round}
			assertModel(t, plain, want)
			assertModel(t, fetched, want)
		}
	})
}

// A batch whose reads fail changes nothing and can be applied again; a
// nil keyOf is refused.
func TestRedisReadModelPrefetchFailure(t *testing.T) {
	if _, err := NewRedisReadModel(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), "m", balances, WithPrefetch(nil)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("WithPrefetch(nil): %v, want ErrInvalidConfig", err)
	}
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		s, _ := NewRedisStore(tg.Client, WithPrefix(tg.Prefix))
		mustAppend(t, s, "a", AnyVersion, deposited(5))
		m, err := NewRedisReadModel(tg.Client, "m", balances, WithPrefix(tg.Prefix),
			WithPrefetch(func(e Event) (string, bool) { return e.StreamID, true }))
		if err != nil {
			t.Fatal(err)
		}
		evs, err := s.ReadAll(ctx, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		tg.Faults.Cut()
		if err := m.Apply(ctx, evs); err == nil {
			t.Fatal("Apply with the connection cut succeeded")
		}
		tg.Faults.Heal()
		assertModel(t, m, map[string]int{})
		if err := m.Apply(ctx, evs); err != nil {
			t.Fatal(err)
		}
		assertModel(t, m, map[string]int{"a": 5})
	})
}
