package cqrs

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEventStoreConformance runs one suite against every EventStore, so
// that the memory and Redis stores cannot drift apart.
func TestEventStoreConformance(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		s := st.newStore()
		other := st.newStore()

		t.Run("empty store", func(t *testing.T) {
			if evs := mustLoad(t, s, "nope", 1); len(evs) != 0 {
				t.Fatalf("load of a missing stream: %v", evs)
			}
			evs, err := s.ReadAll(ctx, 1, 10)
			if err != nil || len(evs) != 0 {
				t.Fatalf("read all of an empty store: %v %v", evs, err)
			}
			if h, err := s.(Header).Head(ctx); err != nil || h != 0 {
				t.Fatalf("head %d %v", h, err)
			}
		})

		var a1 []Event
		t.Run("append and load round trip", func(t *testing.T) {
			before := time.Now().Add(-time.Hour)
			e1 := deposited(10).WithMeta("user", "ann").WithID("a-1")
			e2 := ev("Withdrawn", map[string]any{"amount": 3, "note": "ünïcödé \"quoted\" {brace}"})
			e3 := Event{Type: "Frozen"} // no data
			if v := mustAppend(t, s, "acc-1", NoStream, e1, e2, e3); v != 3 {
				t.Fatalf("version %d, want 3", v)
			}
			a1 = mustLoad(t, other, "acc-1", 1)
			if len(a1) != 3 {
				t.Fatalf("loaded %d events", len(a1))
			}
			for i, e := range a1 {
				if e.StreamID != "acc-1" || e.Version != int64(i+1) || e.Position != int64(i+1) {
					t.Errorf("event %d: %s", i, fmtEvent(e))
				}
				if e.RecordedAt.Before(before) || e.RecordedAt.After(time.Now().Add(time.Hour)) {
					t.Errorf("event %d recorded at %v", i, e.RecordedAt)
				}
				if !e.RecordedAt.Equal(a1[0].RecordedAt) {
					t.Errorf("events of one append have different times")
				}
			}
			if a1[0].Type != "Deposited" || string(a1[0].Data) != `{"amount":10}` || a1[0].Metadata["user"] != "ann" || a1[0].ID() != "a-1" || len(a1[0].Metadata) != 2 {
				t.Errorf("event 1: %s", fmtEvent(a1[0]))
			}
			if string(a1[1].Data) != string(e2.Data) || a1[1].Metadata != nil {
				t.Errorf("event 2: %s", fmtEvent(a1[1]))
			}
			if a1[2].Type != "Frozen" || len(a1[2].Data) != 0 {
				t.Errorf("event 3: %s", fmtEvent(a1[2]))
			}
			all, err := s.ReadAll(ctx, 1, 100)
			if err != nil || len(all) != 3 {
				t.Fatalf("read all: %d %v", len(all), err)
			}
			for i := range all {
				if err := sameEvent(all[i], a1[i]); err != nil {
					t.Error(err)
				}
			}
		})

		t.Run("returned events are copies", func(t *testing.T) {
			evs := mustLoad(t, s, "acc-1", 1)
			evs[0].Metadata["user"] = "mallory"
			evs[0].Type = "Changed"
			if again := mustLoad(t, s, "acc-1", 1); again[0].Metadata["user"] != "ann" || again[0].Type != "Deposited" {
				t.Fatalf("store changed through a loaded event: %s", fmtEvent(again[0]))
			}
			data := []byte(`{"amount":7}`)
			meta := map[string]string{"k": "v"}
			mustAppend(t, s, "copy", NoStream, Event{Type: "T", Data: data, Metadata: meta})
			data[2], meta["k"] = 'X', "changed"
			if got := mustLoad(t, s, "copy", 1)[0]; string(got.Data) != `{"amount":7}` || got.Metadata["k"] != "v" {
				t.Fatalf("store changed through appended buffers: %s", fmtEvent(got))
			}
		})

		t.Run("expected versions", func(t *testing.T) {
			cases := []struct {
				name     string
				stream   string
				expected int64
				actual   int64 // -100: must succeed
			}{
				{"NoStream on a new stream", "v-new", NoStream, -100},
				{"NoStream on an existing stream", "acc-1", NoStream, 3},
				{"StreamExists on a new stream", "v-new2", StreamExists, 0},
				{"StreamExists on an existing stream", "acc-1", StreamExists, -100},
				{"AnyVersion on a new stream", "v-new3", AnyVersion, -100},
				{"AnyVersion on an existing stream", "acc-1", AnyVersion, -100},
				{"exact, right", "acc-1", 5, -100},
				{"exact, stale", "acc-1", 5, 6},
				{"exact, ahead", "acc-1", 9, 6},
				{"exact on a new stream", "v-new4", 1, 0},
			}
			for _, c := range cases {
				v, err := other.Append(ctx, c.stream, c.expected, deposited(1))
				if c.actual == -100 {
					if err != nil {
						t.Errorf("%s: %v", c.name, err)
					}
					continue
				}
				var ce *ConflictError
				if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) {
					t.Errorf("%s: got %d %v, want ErrConflict", c.name, v, err)
					continue
				}
				if ce.Actual != c.actual || ce.Expected != c.expected || ce.StreamID != c.stream {
					t.Errorf("%s: conflict %+v, want actual %d", c.name, ce, c.actual)
				}
			}
		})

		t.Run("a refused append writes nothing", func(t *testing.T) {
			before := readAll(t, s)
			_, err := s.Append(ctx, "acc-1", 1, deposited(1), deposited(2), deposited(3))
			if !errors.Is(err, ErrConflict) {
				t.Fatalf("err %v", err)
			}
			if after := readAll(t, s); len(after) != len(before) {
				t.Fatalf("log grew from %d to %d", len(before), len(after))
			}
			if evs := mustLoad(t, s, "acc-1", 1); len(evs) != 6 {
				t.Fatalf("stream has %d events", len(evs))
			}
		})

		t.Run("empty append checks the version", func(t *testing.T) {
			if v, err := s.Append(ctx, "acc-1", 6); err != nil || v != 6 {
				t.Fatalf("got %d %v", v, err)
			}
			if v, err := s.Append(ctx, "acc-1", AnyVersion); err != nil || v != 6 {
				t.Fatalf("any: got %d %v", v, err)
			}
			if _, err := s.Append(ctx, "acc-1", 2); !errors.Is(err, ErrConflict) {
				t.Fatalf("stale: %v", err)
			}
			if v, err := s.Append(ctx, "never", NoStream); err != nil || v != 0 {
				t.Fatalf("new stream: %d %v", v, err)
			}
			if evs := mustLoad(t, s, "never", 1); len(evs) != 0 {
				t.Fatal("an empty append created events")
			}
		})

		t.Run("load from a version", func(t *testing.T) {
			for _, c := range []struct{ from, n, first int64 }{{1, 6, 1}, {0, 6, 1}, {-5, 6, 1}, {4, 3, 4}, {6, 1, 6}, {7, 0, 0}, {100, 0, 0}} {
				evs := mustLoad(t, other, "acc-1", c.from)
				if int64(len(evs)) != c.n || (c.n > 0 && evs[0].Version != c.first) {
					t.Errorf("from %d: %d events, first %v", c.from, len(evs), evs)
				}
			}
		})

		t.Run("read all from a position with a limit", func(t *testing.T) {
			all := readAll(t, s)
			for i, e := range all {
				if e.Position != int64(i+1) {
					t.Fatalf("position %d at index %d", e.Position, i)
				}
			}
			n := int64(len(all))
			for _, c := range []struct {
				from  int64
				limit int
				want  int64
			}{{1, 1, 1}, {0, 2, 2}, {-3, 3, 3}, {2, 1000, n - 1}, {n, 5, 1}, {n + 1, 5, 0}, {n + 100, 5, 0}} {
				evs, err := other.ReadAll(ctx, c.from, c.limit)
				if err != nil || int64(len(evs)) != c.want {
					t.Errorf("from %d limit %d: %d events %v, want %d", c.from, c.limit, len(evs), err, c.want)
					continue
				}
				for i, e := range evs {
					if err := sameEvent(e, all[max(c.from, 1)-1+int64(i)]); err != nil {
						t.Error(err)
					}
				}
			}
			if h, err := s.(Header).Head(ctx); err != nil || h != n {
				t.Errorf("head %d %v, want %d", h, err, n)
			}
		})

		t.Run("invalid arguments", func(t *testing.T) {
			bad := []struct {
				name string
				fn   func() error
			}{
				{"empty stream", func() error { _, err := s.Append(ctx, "", AnyVersion, deposited(1)); return err }},
				{"no type", func() error { _, err := s.Append(ctx, "x", AnyVersion, Event{Data: []byte(`1`)}); return err }},
				{"data not JSON", func() error {
					_, err := s.Append(ctx, "x", AnyVersion, Event{Type: "T", Data: []byte(`{nope`)})
					return err
				}},
				{"expected version -3", func() error { _, err := s.Append(ctx, "x", -3, deposited(1)); return err }},
				{"event of another stream", func() error {
					e := deposited(1)
					e.StreamID = "y"
					_, err := s.Append(ctx, "x", AnyVersion, e)
					return err
				}},
				{"id twice in one append", func() error {
					_, err := s.Append(ctx, "x", AnyVersion, deposited(1).WithID("d"), deposited(2).WithID("d"))
					return err
				}},
				{"empty id", func() error { _, err := s.Append(ctx, "x", AnyVersion, deposited(1).WithID("")); return err }},
				{"bad schema", func() error {
					_, err := s.Append(ctx, "x", AnyVersion, deposited(1).WithMeta(MetaSchema, "0"))
					return err
				}},
				{"load empty stream id", func() error { _, err := s.Load(ctx, "", 1); return err }},
				{"read all limit 0", func() error { _, err := s.ReadAll(ctx, 1, 0); return err }},
			}
			for _, b := range bad {
				if err := b.fn(); !errors.Is(err, ErrInvalidArgument) {
					t.Errorf("%s: %v, want ErrInvalidArgument", b.name, err)
				}
			}
			if evs := mustLoad(t, s, "x", 1); len(evs) != 0 {
				t.Errorf("invalid appends wrote %d events", len(evs))
			}
			e := deposited(1)
			e.StreamID = "x"
			if _, err := s.Append(ctx, "x", NoStream, e); err != nil {
				t.Errorf("event naming its own stream: %v", err)
			}
		})

		t.Run("event ids make retries idempotent", func(t *testing.T) {
			batch := []Event{deposited(1).WithID("c1"), deposited(2).WithID("c2")}
			if v := mustAppend(t, s, "idem", NoStream, batch...); v != 2 {
				t.Fatalf("v %d", v)
			}
			head := len(readAll(t, s))
			// The same call again (a retry after a lost reply), from another process.
			for _, exp := range []int64{NoStream, AnyVersion, StreamExists} {
				if v, err := other.Append(ctx, "idem", exp, batch...); err != nil || v != 2 {
					t.Fatalf("retry at %s: %d %v", versionName(exp), v, err)
				}
			}
			mustAppend(t, s, "idem", 2, deposited(3).WithID("c3"))
			// A retry of the first append still succeeds after the stream moved on…
			if v, err := other.Append(ctx, "idem", NoStream, batch...); err != nil || v != 2 {
				t.Fatalf("late retry: %d %v", v, err)
			}
			// …and one of the second returns its own version.
			if v, err := other.Append(ctx, "idem", 2, deposited(3).WithID("c3")); err != nil || v != 3 {
				t.Fatalf("retry of the second: %d %v", v, err)
			}
			if got := len(readAll(t, s)); got != head+1 {
				t.Fatalf("retries wrote events: %d, want %d", got, head+1)
			}
			// Not a retry: a stale version is a conflict, an id reused otherwise a duplicate.
			if _, err := other.Append(ctx, "idem", 1, deposited(2).WithID("c2"), deposited(9).WithID("c9")); !errors.Is(err, ErrConflict) {
				t.Errorf("stale, partly known ids: %v", err)
			}
			if _, err := other.Append(ctx, "idem", AnyVersion, deposited(2).WithID("c2"), deposited(9).WithID("c9")); !errors.Is(err, ErrDuplicateEventID) {
				t.Errorf("partly known ids: %v", err)
			}
			if _, err := other.Append(ctx, "idem", 3, deposited(9).WithID("c9"), deposited(1).WithID("c1")); !errors.Is(err, ErrDuplicateEventID) {
				t.Errorf("known id second: %v", err)
			}
			if _, err := other.Append(ctx, "idem", AnyVersion, deposited(2).WithID("c2"), deposited(1).WithID("c1")); !errors.Is(err, ErrDuplicateEventID) {
				t.Errorf("known ids, wrong order: %v", err)
			}
			if _, err := other.Append(ctx, "idem", AnyVersion, deposited(1).WithID("c1"), deposited(2)); !errors.Is(err, ErrDuplicateEventID) {
				t.Errorf("known id and an event without id: %v", err)
			}
			if _, err := other.Append(ctx, "idem", NoStream, deposited(2).WithID("c2")); !errors.Is(err, ErrConflict) {
				t.Errorf("retry claiming the wrong version: %v", err)
			}
			// Ids are per stream.
			if v, err := other.Append(ctx, "idem-2", NoStream, batch...); err != nil || v != 2 {
				t.Errorf("same ids in another stream: %d %v", v, err)
			}
			if got := len(mustLoad(t, s, "idem", 1)); got != 3 {
				t.Errorf("stream has %d events, want 3", got)
			}
		})

		t.Run("stream ids with odd characters", func(t *testing.T) {
			for _, id := range []string{"a{b}c", "}", "{", "sp ace", "ünï:cöde", strings.Repeat("x", 300)} {
				mustAppend(t, s, id, NoStream, deposited(1))
				evs := mustLoad(t, other, id, 1)
				if len(evs) != 1 || evs[0].StreamID != id {
					t.Errorf("stream %q: %v", id, evs)
				}
			}
		})

		t.Run("large batch", func(t *testing.T) {
			batch := make([]Event, 1234)
			for i := range batch {
				batch[i] = deposited(i).WithID(fmt.Sprint("big-", i))
			}
			before := len(readAll(t, s))
			if v := mustAppend(t, s, "big", NoStream, batch...); v != 1234 {
				t.Fatalf("v %d", v)
			}
			evs := mustLoad(t, other, "big", 1)
			if len(evs) != 1234 {
				t.Fatalf("loaded %d", len(evs))
			}
			for i, e := range evs {
				if e.Version != int64(i+1) || e.Position != int64(before+i+1) || string(e.Data) != fmt.Sprintf(`{"amount":%d}`, i) {
					t.Fatalf("event %d: %s", i, fmtEvent(e))
				}
			}
			if v, err := other.Append(ctx, "big", NoStream, batch...); err != nil || v != 1234 {
				t.Fatalf("retry of a large batch: %d %v", v, err)
			}
			if evs := mustLoad(t, other, "big", 1001); len(evs) != 234 || evs[0].Version != 1001 {
				t.Fatalf("load from 1001: %d", len(evs))
			}
		})

		t.Run("wait", func(t *testing.T) {
			w := s.(Waiter)
			head, _ := s.(Header).Head(ctx)
			if err := w.Wait(ctx, head-1); err != nil {
				t.Fatalf("wait with events after: %v", err)
			}
			woke := make(chan error, 1)
			go func() {
				// Spurious wake-ups are allowed: wait until the event is there.
				for {
					if err := w.Wait(ctx, head); err != nil {
						woke <- err
						return
					}
					if h, _ := s.(Header).Head(ctx); h > head {
						woke <- nil
						return
					}
				}
			}()
			mustAppend(t, other, "wake", AnyVersion, deposited(1))
			select {
			case err := <-woke:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Wait did not wake up after an append")
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := w.Wait(cctx, head+1); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled wait: %v", err)
			}
		})

		t.Run("cancelled context", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.Append(cctx, "c", AnyVersion, deposited(1)); !errors.Is(err, context.Canceled) {
				t.Errorf("append: %v", err)
			}
			if _, err := s.Load(cctx, "c", 1); !errors.Is(err, context.Canceled) {
				t.Errorf("load: %v", err)
			}
			if _, err := s.ReadAll(cctx, 1, 1); !errors.Is(err, context.Canceled) {
				t.Errorf("read all: %v", err)
			}
		})
	})
}

// TestConcurrentAppendsOneWinner: 100 goroutines append to one stream with
// the same expected version; exactly one wins, the others get ErrConflict
// with the winner's version.
func TestConcurrentAppendsOneWinner(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		stores := []EventStore{st.newStore(), st.newStore(), st.newStore(), st.newStore()}
		mustAppend(t, stores[0], "race", NoStream, deposited(0))
		for round := 0; round < 3; round++ {
			exp := int64(1 + round)
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, 100)
			for g := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[g] = stores[g%len(stores)].Append(context.Background(), "race", exp, deposited(g))
				}()
			}
			close(start)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				var ce *ConflictError
				switch {
				case err == nil:
					wins++
				case errors.As(err, &ce):
					if ce.Actual != exp+1 {
						t.Errorf("conflict with actual %d, want %d", ce.Actual, exp+1)
					}
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("round %d: %d winners, want 1", round, wins)
			}
		}
		if evs := mustLoad(t, stores[1], "race", 1); len(evs) != 4 {
			t.Fatalf("%d events, want 4", len(evs))
		}
	})
}

// TestGlobalOrder: concurrent writers on many streams. The global log has
// positions 1..N without gaps, it holds every stream's events in their
// version order, and it agrees with Load.
func TestGlobalOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		ctx := context.Background()
		const writers, perWriter, streams = 8, 40, 10
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			s := st.newStore()
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := rand.New(rand.NewSource(int64(w)))
				for i := 0; i < perWriter; i++ {
					stream := fmt.Sprint("s", rnd.Intn(streams))
					n := 1 + rnd.Intn(3)
					batch := make([]Event, n)
					for j := range batch {
						batch[j] = ev("E", map[string]int{"w": w, "i": i, "j": j})
					}
					// Checked appends: read the version, retry on conflict.
					for {
						evs, err := s.Load(ctx, stream, 1)
						if err != nil {
							t.Error(err)
							return
						}
						_, err = s.Append(ctx, stream, int64(len(evs)), batch...)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrConflict) {
							t.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		s := st.newStore()
		all := readAll(t, s)
		last := map[string]int64{}
		for i, e := range all {
			if e.Position != int64(i+1) {
				t.Fatalf("index %d has position %d", i, e.Position)
			}
			if e.Version != last[e.StreamID]+1 {
				t.Fatalf("stream %s: version %d after %d in the global order", e.StreamID, e.Version, last[e.StreamID])
			}
			last[e.StreamID] = e.Version
		}
		for stream, v := range last {
			evs := mustLoad(t, s, stream, 1)
			if int64(len(evs)) != v {
				t.Fatalf("stream %s: load has %d events, log %d", stream, len(evs), v)
			}
			for _, e := range evs {
				if err := sameEvent(e, all[e.Position-1]); err != nil {
					t.Fatal(err)
				}
			}
		}
		// The batches of one append are contiguous in the global order.
		for i := 1; i < len(all); i++ {
			var a, b map[string]int
			_ = all[i-1].Decode(&a)
			_ = all[i].Decode(&b)
			if b["j"] > 0 && (a["w"] != b["w"] || a["i"] != b["i"] || a["j"] != b["j"]-1) {
				t.Fatalf("append interleaved at position %d: %v then %v", i+1, a, b)
			}
		}
	})
}
