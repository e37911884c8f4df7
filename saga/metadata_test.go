package saga

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"

	"github.com/sysdesign/patterns/internal/redistest"
)

// The metadata given at Execute is logged with Started and reaches every
// step, also the steps a recovering process runs without WithMetadata of
// its own: the log carries it.
func TestMetadataSurvivesRecovery(t *testing.T) {
	eachLog(t, func(t *testing.T, newLog func() Log, clock *fakeClock, _ *redistest.Target) {
		ctx := context.Background()
		meta := map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tenant": "eu"}
		var mu sync.Mutex
		var seen []map[string]string
		record := func(ctx context.Context, _ *int) error {
			info, _ := Info(ctx)
			mu.Lock()
			seen = append(seen, info.Metadata)
			mu.Unlock()
			return nil
		}
		steps := []Step[int]{{Name: "a", Action: record}, {Name: "b", Action: record}}
		log := newLog()
		// The first process dies at its second write: step a ran, its
		// outcome is lost.
		crash := &crashLog{Log: log, at: 1}
		given := maps.Clone(meta)
		first := mustNew(t, "meta", steps, WithLog(crash), WithClock(clock.Now),
			WithMetadata(func(context.Context) map[string]string { return given }))
		if _, err := first.Execute(ctx, "x", 0); !errors.Is(err, errCrash) {
			t.Fatalf("Execute: %v, want the crash", err)
		}
		given["tenant"] = "changed after Execute" // Execute kept a copy
		rec, err := log.Load(ctx, "meta", "x")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Entries[0].Kind != Started || !maps.Equal(rec.Entries[0].Metadata, meta) {
			t.Fatalf("Started entry metadata %v, want %v", rec.Entries[0].Metadata, meta)
		}

		clock.Advance(2 * DefaultLease)
		second := mustNew(t, "meta", steps, WithLog(newLog()), WithClock(clock.Now), WithRecovery(RollForward))
		res, err := second.Recover(ctx)
		if err != nil || len(res) != 1 || res[0].Status != Completed {
			t.Fatalf("Recover: %v, %v", res, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) < 3 { // a in the first process, a again and b in the second
			t.Fatalf("steps ran %d times, want at least 3", len(seen))
		}
		for i, m := range seen {
			if !maps.Equal(m, meta) {
				t.Fatalf("step run %d saw metadata %v, want %v", i+1, m, meta)
			}
		}
	})
}

func TestMetadataBounds(t *testing.T) {
	if _, err := New("m", []Step[int]{{Name: "a", Action: func(context.Context, *int) error { return nil }}}, WithMetadata(nil)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("WithMetadata(nil): %v", err)
	}
	ran := false
	big := map[string]string{"k": strings.Repeat("x", MaxMetadataSize)}
	s := mustNew(t, "m", []Step[int]{{Name: "a", Action: func(context.Context, *int) error { ran = true; return nil }}},
		WithMetadata(func(context.Context) map[string]string { return big }))
	if _, err := s.Execute(context.Background(), "x", 0); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("oversized metadata: %v", err)
	}
	if ran {
		t.Fatal("a step ran despite the refused metadata")
	}
	if _, err := s.Log().Load(context.Background(), "m", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused execution logged: %v", err)
	}
	// Without WithMetadata steps see nil.
	var got map[string]string = map[string]string{}
	plain := mustNew(t, "p", []Step[int]{{Name: "a", Action: func(ctx context.Context, _ *int) error {
		info, _ := Info(ctx)
		got = info.Metadata
		return nil
	}}})
	if _, err := plain.Execute(context.Background(), "x", 0); err != nil || got != nil {
		t.Fatalf("Execute: %v; metadata %v, want nil", err, got)
	}
}
