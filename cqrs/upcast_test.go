package cqrs

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// The Deposited event's history: v1 {"amount": dollars}, v2 {"cents": n},
// then renamed to MoneyIn {"cents": n, "currency": "USD"} (MoneyIn v1).
func bankUpcasters(t testing.TB) *Upcasters {
	u := NewUpcasters()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(u.Register("Deposited", 1, func(e Event) (Event, error) {
		var v1 struct{ Amount int }
		if err := json.Unmarshal(e.Data, &v1); err != nil {
			return e, err
		}
		e.Data, _ = json.Marshal(map[string]int{"cents": v1.Amount * 100})
		return e, nil
	}))
	must(u.Register("Deposited", 2, func(e Event) (Event, error) {
		var v2 map[string]any
		if err := json.Unmarshal(e.Data, &v2); err != nil {
			return e, err
		}
		v2["currency"] = "USD"
		e.Data, _ = json.Marshal(v2)
		e.Type = "MoneyIn"
		return e, nil
	}))
	return u
}

func TestUpcasters(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		raw := st.newStore()
		// Events written by three generations of the code.
		mustAppend(t, raw, "u", NoStream,
			ev("Deposited", amount{5}).WithMeta("user", "old"),
			ev("Deposited", map[string]int{"cents": 250}).WithMeta(MetaSchema, "2"),
			ev("MoneyIn", map[string]any{"cents": 1, "currency": "EUR"}),
			ev("Opened", opened{"x"}),
		)
		u := bankUpcasters(t)
		s, err := NewUpcastingStore(raw, u)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ typ, data, schema string }{
			{"MoneyIn", `{"cents":500,"currency":"USD"}`, ""},
			{"MoneyIn", `{"cents":250,"currency":"USD"}`, ""},
			{"MoneyIn", `{"cents":1,"currency":"EUR"}`, ""},
			{"Opened", `{"owner":"x"}`, ""},
		}
		check := func(what string, evs []Event) {
			t.Helper()
			if len(evs) != len(want) {
				t.Fatalf("%s: %d events", what, len(evs))
			}
			for i, w := range want {
				e := evs[i]
				if e.Type != w.typ || string(e.Data) != w.data || e.Metadata[MetaSchema] != w.schema || e.Version != int64(i+1) || e.StreamID != "u" {
					t.Errorf("%s: event %d: %s", what, i, fmtEvent(e))
				}
			}
			if evs[0].Metadata["user"] != "old" {
				t.Errorf("%s: metadata lost: %v", what, evs[0].Metadata)
			}
		}
		check("load", mustLoad(t, s, "u", 1))
		all, err := s.ReadAll(ctx, 1, 10)
		if err != nil {
			t.Fatal(err)
		}
		check("read all", all)
		// The store still holds the originals.
		if e := mustLoad(t, raw, "u", 1)[0]; e.Type != "Deposited" || string(e.Data) != `{"amount":5}` || e.Metadata[MetaSchema] != "" {
			t.Errorf("original changed: %s", fmtEvent(e))
		}
		if u.Latest("Deposited") != 3 || u.Latest("MoneyIn") != 1 || u.Latest("Opened") != 1 {
			t.Errorf("latest: %d %d %d", u.Latest("Deposited"), u.Latest("MoneyIn"), u.Latest("Opened"))
		}
		// New events are stamped with the latest schema of their type, so
		// that they are not upcast as if they were old.
		u2 := NewUpcasters()
		if err := u2.Register("Withdrawn", 1, func(e Event) (Event, error) {
			e.Data = []byte(`{"amount":-1}`)
			return e, nil
		}); err != nil {
			t.Fatal(err)
		}
		s2, _ := NewUpcastingStore(raw, u2)
		in := ev("Withdrawn", amount{7})
		mustAppend(t, s2, "u", 4, in, ev("MoneyIn", map[string]int{"cents": 7}))
		if in.Metadata != nil {
			t.Error("Append changed the caller's event")
		}
		evs := mustLoad(t, raw, "u", 5)
		if evs[0].Metadata[MetaSchema] != "2" || evs[1].Metadata != nil {
			t.Errorf("stamps: %v %v", evs[0].Metadata, evs[1].Metadata)
		}
		if evs := mustLoad(t, s2, "u", 5); string(evs[0].Data) != `{"amount":7}` {
			t.Errorf("a new event was upcast: %s", fmtEvent(evs[0]))
		}
		if evs := mustLoad(t, s2, "u", 1); len(evs) != 6 || evs[0].Type != "Deposited" {
			t.Errorf("another registry upcasts other types: %s", fmtEvent(evs[0]))
		}
	})
}

func TestUpcasterErrors(t *testing.T) {
	u := NewUpcasters()
	if err := u.Register("", 1, func(e Event) (Event, error) { return e, nil }); !errors.Is(err, ErrInvalidConfig) {
		t.Error(err)
	}
	if err := u.Register("T", 0, func(e Event) (Event, error) { return e, nil }); !errors.Is(err, ErrInvalidConfig) {
		t.Error(err)
	}
	if err := u.Register("T", 1, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Error(err)
	}
	boom := errors.New("boom")
	if err := u.Register("T", 1, func(e Event) (Event, error) { return e, boom }); err != nil {
		t.Fatal(err)
	}
	if err := u.Register("T", 1, func(e Event) (Event, error) { return e, nil }); !errors.Is(err, ErrInvalidConfig) {
		t.Error("registered twice:", err)
	}
	if err := u.Register("U", 1, func(e Event) (Event, error) { e.Type = ""; return e, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Upcast(Event{Type: "T"}); !errors.Is(err, ErrUpcast) || !errors.Is(err, boom) {
		t.Errorf("failing upcaster: %v", err)
	}
	if _, err := u.Upcast(Event{Type: "U"}); !errors.Is(err, ErrUpcast) {
		t.Errorf("upcaster without type: %v", err)
	}
	if _, err := u.Upcast(Event{Type: "T", Metadata: map[string]string{MetaSchema: "x"}}); !errors.Is(err, ErrUpcast) {
		t.Errorf("bad schema: %v", err)
	}
	if e, err := u.Upcast(Event{Type: "T", Metadata: map[string]string{MetaSchema: "2"}}); err != nil || e.Type != "T" {
		t.Errorf("latest schema: %v %v", e, err)
	}
	_ = u.Register("A", 1, func(e Event) (Event, error) { e.Type = "B"; return e, nil })
	_ = u.Register("B", 1, func(e Event) (Event, error) { e.Type = "A"; return e, nil })
	if _, err := u.Upcast(Event{Type: "A"}); !errors.Is(err, ErrUpcast) {
		t.Errorf("renames in a circle: %v", err)
	}
	s := NewMemoryStore()
	mustAppend(t, s, "x", NoStream, Event{Type: "T"})
	us, _ := NewUpcastingStore(s, u)
	if _, err := us.Load(context.Background(), "x", 1); !errors.Is(err, boom) {
		t.Errorf("load: %v", err)
	}
	if _, err := us.ReadAll(context.Background(), 1, 5); !errors.Is(err, boom) {
		t.Errorf("read all: %v", err)
	}
	if _, err := NewUpcastingStore(nil, u); !errors.Is(err, ErrInvalidConfig) {
		t.Error(err)
	}
}

// TestUpcastingRepository: an aggregate evolves from old events through
// the upcasters, seeing only the latest schema.
func TestUpcastingRepository(t *testing.T) {
	ctx := context.Background()
	raw := NewMemoryStore()
	mustAppend(t, raw, "w", NoStream, ev("Deposited", amount{2}), ev("Deposited", map[string]int{"cents": 50}).WithMeta(MetaSchema, "2"))
	s, _ := NewUpcastingStore(raw, bankUpcasters(t))
	r, err := NewRepository(s, func(cents int, e Event) (int, error) {
		if e.Type != "MoneyIn" {
			return cents, errors.New("saw " + e.Type)
		}
		var d struct{ Cents int }
		err := e.Decode(&d)
		return cents + d.Cents, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Execute(ctx, "w", func(int) ([]Event, error) { return []Event{ev("MoneyIn", map[string]int{"cents": 1})}, nil }); err != nil {
		t.Fatal(err)
	}
	if c, v, err := r.Load(ctx, "w"); err != nil || c != 251 || v != 3 {
		t.Fatalf("got %d v%d %v", c, v, err)
	}
}

// TestUpcasterChains: upcasters may be registered in any order, but a
// chain that does not start at 1 or has a gap is refused where it is
// installed (Validate, NewUpcastingStore).
func TestUpcasterChains(t *testing.T) {
	id := func(e Event) (Event, error) { return e, nil }
	ok := NewUpcasters()
	for _, v := range []int{2, 1, 3} {
		if err := ok.Register("T", v, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("1→2→3→4 registered out of order: %v", err)
	}
	if _, err := NewUpcastingStore(NewMemoryStore(), ok); err != nil {
		t.Fatal(err)
	}
	for name, from := range map[string][]int{"no start": {2, 3}, "gap": {1, 3}} {
		up := NewUpcasters()
		for _, v := range from {
			if err := up.Register("T", v, id); err != nil {
				t.Fatal(err)
			}
		}
		if err := up.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate: %v", name, err)
		}
		if _, err := NewUpcastingStore(NewMemoryStore(), up); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewUpcastingStore: %v", name, err)
		}
	}
}
