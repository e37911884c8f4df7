package saga

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A step's context keeps saying which step and try it was made for after
// the execution ended and later executions reused the run: the contexts
// live in each execution's own allocation, never in the pooled run.
func TestStepContextsOutliveTheirExecution(t *testing.T) {
	var kept []context.Context
	keep := func(ctx context.Context, _ *order) error { kept = append(kept, ctx); return nil }
	flaky := 0
	retry := func(ctx context.Context, _ *order) error {
		kept = append(kept, ctx)
		if flaky++; flaky == 1 {
			return errors.New("once")
		}
		return nil
	}
	s := mustNew(t, "ctxs", []Step[order]{{Name: "a", Action: keep, Compensate: keep}, {Name: "b", Action: retry}},
		WithActionPolicy(Policy{MaxAttempts: 2, Backoff: time.Microsecond, MaxBackoff: time.Microsecond}),
		WithMetadata(func(context.Context) map[string]string { return map[string]string{"m": "1"} }))
	if _, err := s.Execute(context.Background(), "first", order{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // reuse the pooled run
		if _, err := s.Execute(context.Background(), "later"+string(rune('a'+i)), order{}); err != nil {
			t.Fatal(err)
		}
	}
	want := []StepInfo{
		{Saga: "ctxs", ID: "first", Step: "a", Index: 0, Attempt: 1},
		{Saga: "ctxs", ID: "first", Step: "b", Index: 1, Attempt: 1},
		{Saga: "ctxs", ID: "first", Step: "b", Index: 1, Attempt: 2},
	}
	for i, w := range want {
		got, ok := Info(kept[i])
		if !ok || got.Saga != w.Saga || got.ID != w.ID || got.Step != w.Step || got.Index != w.Index ||
			got.Attempt != w.Attempt || got.Compensating || got.Metadata["m"] != "1" {
			t.Errorf("context %d: Info = %+v, %v; want %+v with metadata m=1", i, got, ok, w)
		}
		if k, wk := StepKey(kept[i]), "ctxs/first/"+w.Step; k != wk {
			t.Errorf("context %d: StepKey = %q, want %q", i, k, wk)
		}
	}
	if _, ok := Info(context.Background()); ok || StepKey(context.Background()) != "" {
		t.Error("Info or StepKey outside a step")
	}
}

// A heartbeat restarted by a pooled run's next execution ignores a beat
// of its earlier start that fires late: it must not renew the new
// execution's saga on the old one's timer.
func TestHeartbeatIgnoresABeatOfAnEarlierStart(t *testing.T) {
	var h heartbeat
	first := 0
	h.start(time.Hour, func() bool { first++; return true })
	h.mu.Lock()
	oldGen := h.gen
	h.mu.Unlock()
	h.stop()
	second := 0
	h.start(time.Hour, func() bool { second++; return true })
	defer h.stop()
	h.beat(oldGen) // the first start's timer, firing late
	if first != 0 || second != 0 {
		t.Fatalf("a stale beat renewed: first %d, second %d", first, second)
	}
	h.mu.Lock()
	cur := h.gen
	h.mu.Unlock()
	h.beat(cur)
	if second != 1 {
		t.Fatalf("the current start's beat renewed %d times, want 1", second)
	}
}
