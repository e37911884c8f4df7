package cqrs

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestRedisAppendBatchCut: a batch sent while the connection is cut
// fails as a whole (no results; whether it landed is unknown: go-redis
// may send it again once the connection heals); batches cut at random
// moments and then sent again whole land exactly once, each item whole:
// its events contiguous in the global order, at the versions asked.
func TestRedisAppendBatchCut(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, faults := tg.NewClient()
		s, err := NewRedisStore(c, WithPrefix(tg.Prefix), WithTimeout(300*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		faults.Cut()
		res, err := s.AppendBatch(ctx, batchOf("cut", 0))
		faults.Heal()
		if err == nil || res != nil {
			t.Fatalf("batch on a cut connection: %v, %v", res, err)
		}
		// Sent again until it goes through: the client reconnects first.
		for deadline := time.Now().Add(20 * time.Second); ; {
			if res, err = s.AppendBatch(ctx, batchOf("cut", 0)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cut batch sent again: %v", err)
			}
		}
		checkBatchResults(t, "cut", 0, res)

		const writers, batches = 3, 15
		done := make(chan struct{})
		var cutter sync.WaitGroup
		cutter.Add(1)
		go func() {
			defer cutter.Done()
			for {
				select {
				case <-done:
					faults.Heal()
					return
				case <-time.After(15 * time.Millisecond):
				}
				faults.Cut()
				time.Sleep(5 * time.Millisecond)
				faults.Heal()
			}
		}()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("w%d", w)
				for i := range batches {
					deadline := time.Now().Add(20 * time.Second)
					for {
						res, err := s.AppendBatch(ctx, batchOf(name, i))
						if err == nil {
							checkBatchResults(t, name, i, res)
							break
						}
						if time.Now().After(deadline) {
							t.Errorf("%s batch %d: still failing: %v", name, i, err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(done)
		cutter.Wait()

		// A connection the last cut closed may still sit in the pool: the
		// first call on it fails and go-redis drops it.
		var all []Event
		for deadline := time.Now().Add(5 * time.Second); ; {
			if all, err = s.ReadAll(ctx, 1, 10_000); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
		if want := (writers*batches + 1) * batchItemsN * batchEventsN; len(all) != want {
			t.Fatalf("%d events in the log, want %d (each once)", len(all), want)
		}
		for i := 0; i < len(all); i += batchEventsN {
			for j := 1; j < batchEventsN; j++ {
				a, b := all[i], all[i+j]
				if b.StreamID != a.StreamID || b.Version != a.Version+int64(j) {
					t.Fatalf("an item split in the log: %s@%d then %s@%d", a.StreamID, a.Version, b.StreamID, b.Version)
				}
			}
		}
	})
}

const batchItemsN, batchEventsN = 3, 2

// batchOf is batch i of writer name: batchItemsN items, on streams of
// their own, of batchEventsN events with ids, at exact expected versions.
func batchOf(name string, i int) []StreamAppend {
	batch := make([]StreamAppend, batchItemsN)
	for k := range batch {
		stream := fmt.Sprintf("%s-s%d", name, k)
		evs := make([]Event, batchEventsN)
		for j := range evs {
			evs[j] = deposited(j).WithID(fmt.Sprintf("b%d-e%d", i, j))
		}
		batch[k] = StreamAppend{StreamID: stream, ExpectedVersion: int64(i * batchEventsN), Events: evs}
	}
	return batch
}

func checkBatchResults(t *testing.T, name string, i int, res []AppendResult) {
	t.Helper()
	for k, r := range res {
		if r.Err != nil || r.Version != int64((i+1)*batchEventsN) || r.Position == 0 {
			t.Errorf("%s batch %d item %d: %+v", name, i, k, r)
		}
	}
}

// TestUpcastingAppendBatch: UpcastingStore's batch append stamps the
// latest schema on events that carry none, as its Append does, without
// changing the caller's batch, through the wrapped store's AppendBatch or
// one append per item.
func TestUpcastingAppendBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, st storeTarget) {
		for _, wrapped := range []string{"batch", "unbatched"} {
			raw := st.newStore()
			inner := raw
			if wrapped == "unbatched" {
				inner = struct{ EventStore }{raw}
			}
			s, err := NewUpcastingStore(inner, bankUpcasters(t))
			if err != nil {
				t.Fatal(err)
			}
			stream := "up-" + wrapped
			batch := []StreamAppend{
				{StreamID: "plain-" + wrapped, ExpectedVersion: NoStream, Events: []Event{ev("Opened", opened{"x"})}},
				{StreamID: stream, ExpectedVersion: NoStream, Events: []Event{
					ev("Deposited", map[string]int{"cents": 7}),
					ev("Deposited", amount{1}).WithMeta(MetaSchema, "1"),
				}},
			}
			res, err := AppendBatch(context.Background(), s, batch)
			if err != nil || res[0].Err != nil || res[1].Err != nil || res[1].Version != 2 {
				t.Fatalf("%s: %+v, %v", wrapped, res, err)
			}
			if _, ok := batch[1].Events[0].Metadata[MetaSchema]; ok {
				t.Errorf("%s: the caller's event was stamped", wrapped)
			}
			evs := mustLoad(t, raw, stream, 1)
			if got := evs[0].Metadata[MetaSchema]; got != "3" {
				t.Errorf("%s: stored schema %q, want the latest, 3", wrapped, got)
			}
			if got := evs[1].Metadata[MetaSchema]; got != "1" {
				t.Errorf("%s: an explicit schema became %q", wrapped, got)
			}
			if _, ok := mustLoad(t, raw, "plain-"+wrapped, 1)[0].Metadata[MetaSchema]; ok {
				t.Errorf("%s: a type without upcasters was stamped", wrapped)
			}
		}
	})
}
