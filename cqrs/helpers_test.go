package cqrs

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// storeTarget is one EventStore implementation under test. newStore
// returns another handle on the same store: for Redis, with a client of
// its own, as another process would have.
type storeTarget struct {
	name     string
	newStore func() EventStore
	tg       *redistest.Target // nil for memory
}

// eachStore runs fn for the memory store and for the Redis store on every
// configured Redis target.
func eachStore(t *testing.T, fn func(t *testing.T, st storeTarget)) {
	t.Run("memory", func(t *testing.T) {
		s := NewMemoryStore()
		fn(t, storeTarget{name: "memory", newStore: func() EventStore { return s }})
	})
	t.Run("redis", func(t *testing.T) {
		redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
			first := true
			newStore := func() EventStore {
				c := tg.Client
				if !first {
					c, _ = tg.NewClient()
				}
				first = false
				s, err := NewRedisStore(c, WithPrefix(tg.Prefix), WithBlock(20*time.Millisecond))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			fn(t, storeTarget{name: string(tg.Kind), newStore: newStore, tg: tg})
		})
	})
}

func ev(typ string, data any) Event { return MustEvent(typ, data) }

func mustAppend(t testing.TB, s EventStore, stream string, exp int64, evs ...Event) int64 {
	t.Helper()
	v, err := s.Append(context.Background(), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %d events to %s at %d: %v", len(evs), stream, exp, err)
	}
	return v
}

func mustLoad(t testing.TB, s EventStore, stream string, from int64) []Event {
	t.Helper()
	evs, err := s.Load(context.Background(), stream, from)
	if err != nil {
		t.Fatalf("load %s: %v", stream, err)
	}
	return evs
}

func readAll(t testing.TB, s EventStore) []Event {
	t.Helper()
	var all []Event
	for {
		evs, err := s.ReadAll(context.Background(), int64(len(all))+1, 333)
		if err != nil {
			t.Fatalf("read all: %v", err)
		}
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
	}
}

// sameEvent compares what the store must preserve of an event.
func sameEvent(a, b Event) error {
	if a.StreamID != b.StreamID || a.Type != b.Type || a.Version != b.Version || a.Position != b.Position ||
		string(a.Data) != string(b.Data) || !a.RecordedAt.Equal(b.RecordedAt) || len(a.Metadata) != len(b.Metadata) {
		return fmt.Errorf("events differ:\n %s\n %s", fmtEvent(a), fmtEvent(b))
	}
	for k, v := range a.Metadata {
		if b.Metadata[k] != v {
			return fmt.Errorf("metadata %q differs: %q vs %q", k, v, b.Metadata[k])
		}
	}
	return nil
}

func fmtEvent(e Event) string {
	m, _ := json.Marshal(e.Metadata)
	return fmt.Sprintf("%s@%d pos %d %s %s %s %s", e.StreamID, e.Version, e.Position, e.Type, e.Data, m, e.RecordedAt.Format(time.RFC3339Nano))
}
