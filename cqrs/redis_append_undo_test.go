package cqrs

import (
	"context"
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redistest"
)

// TestRedisAppendTakesBack: the append script checks a stream's version
// from RPUSH's reply, so a refused item pushes and then trims back, and a
// call that fails part-way (the tail refusing its XADD, a key of another
// type) takes back every item written before it: streams, ids and the
// head stay where they were, and the store appends normally afterwards.
func TestRedisAppendTakesBack(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		s, err := NewRedisStore(tg.Client, WithPrefix(tg.Prefix), WithoutPipelining())
		if err != nil {
			t.Fatal(err)
		}
		c := tg.Client
		streamLen := func(id string) int64 { return c.LLen(ctx, s.base+"s:"+id).Val() }
		hasID := func(stream, id string) bool { return c.HExists(ctx, s.base+"id:"+stream, id).Val() }
		mustAppend(t, s, "a", NoStream, deposited(1).WithID("a1"))
		h := head(t, s)

		// Stale expected versions: nothing stays pushed, no stream is created.
		var ce *ConflictError
		if _, err := s.Append(ctx, "a", NoStream, deposited(2)); !errors.As(err, &ce) || ce.Actual != 1 {
			t.Fatalf("stale append: %v", err)
		}
		if _, err := s.Append(ctx, "missing", StreamExists, deposited(2)); !errors.As(err, &ce) || ce.Actual != 0 {
			t.Fatalf("append to a missing stream that must exist: %v", err)
		}
		if n := c.Exists(ctx, s.base+"s:missing").Val(); n != 0 {
			t.Error("a refused append created its stream")
		}
		if streamLen("a") != 1 || head(t, s) != h {
			t.Fatalf("refused appends moved stream a to %d, head to %d", streamLen("a"), head(t, s))
		}

		// The tail refuses the XADD after both items were written.
		if err := c.XAdd(ctx, &redis.XAddArgs{Stream: s.tailKey(), ID: "999999999999999-0", Values: []string{"p", "0"}}).Err(); err != nil {
			t.Fatal(err)
		}
		batch := []StreamAppend{
			{StreamID: "a", ExpectedVersion: 1, Events: []Event{deposited(2).WithID("a2"), deposited(3).WithID("a3")}},
			{StreamID: "b", ExpectedVersion: NoStream, Events: []Event{deposited(4).WithID("b1")}},
			{StreamID: "a", ExpectedVersion: 3, Events: []Event{deposited(5)}},
		}
		if _, err := s.AppendBatch(ctx, batch); err == nil {
			t.Fatal("batch with the tail ahead of the counter succeeded")
		}
		if streamLen("a") != 1 || c.Exists(ctx, s.base+"s:b").Val() != 0 || hasID("a", "a2") || hasID("a", "a3") || hasID("b", "b1") {
			t.Errorf("failed batch left writes: a at %d, ids a2 %v a3 %v b1 %v",
				streamLen("a"), hasID("a", "a2"), hasID("a", "a3"), hasID("b", "b1"))
		}
		if !hasID("a", "a1") {
			t.Error("the take-back removed an id of an earlier append")
		}
		if err := c.Del(ctx, s.tailKey()).Err(); err != nil {
			t.Fatal(err)
		}

		// A key of another type fails the second item: the first is taken back.
		if err := c.Set(ctx, s.base+"s:c", "not a list", 0).Err(); err != nil {
			t.Fatal(err)
		}
		batch = []StreamAppend{
			{StreamID: "a", ExpectedVersion: 1, Events: []Event{deposited(2).WithID("a2")}},
			{StreamID: "c", ExpectedVersion: AnyVersion, Events: []Event{deposited(3)}},
		}
		if _, err := s.AppendBatch(ctx, batch); err == nil {
			t.Fatal("batch onto a key of another type succeeded")
		}
		if streamLen("a") != 1 || hasID("a", "a2") || head(t, s) != h {
			t.Errorf("failed batch left writes: a at %d, id a2 %v, head %d (was %d)", streamLen("a"), hasID("a", "a2"), head(t, s), h)
		}

		// Afterwards the same appends go through, at the next positions.
		res, err := s.AppendBatch(ctx, []StreamAppend{
			{StreamID: "a", ExpectedVersion: 1, Events: []Event{deposited(2).WithID("a2"), deposited(3).WithID("a3")}},
			{StreamID: "b", ExpectedVersion: NoStream, Events: []Event{deposited(4).WithID("b1")}},
			{StreamID: "a", ExpectedVersion: 3, Events: []Event{deposited(5)}},
			{StreamID: "a", ExpectedVersion: 3, Events: []Event{deposited(6)}}, // stale: a is at 4 now
			{StreamID: "b", ExpectedVersion: AnyVersion, Events: []Event{deposited(4).WithID("b1")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []Appended{{3, h + 2}, {1, h + 3}, {4, h + 4}, {}, {1, h + 3}}
		for i, r := range res {
			if i == 3 {
				if !errors.As(r.Err, &ce) || ce.Actual != 4 {
					t.Errorf("item %d: %v, want a conflict at 4", i, r.Err)
				}
				continue
			}
			if r.Err != nil || r.Appended != want[i] {
				t.Errorf("item %d: %+v, %v; want %+v", i, r.Appended, r.Err, want[i])
			}
		}
		if streamLen("a") != 4 || head(t, s) != h+4 {
			t.Errorf("stream a at %d, head %d; want 4, %d", streamLen("a"), head(t, s), h+4)
		}
		positions := []int64{h, h + 1, h + 2, h + 4}
		evs := mustLoad(t, s, "a", 1)
		if len(evs) != len(positions) {
			t.Fatalf("stream a loads %d events, want %d", len(evs), len(positions))
		}
		for i, e := range evs {
			if e.Version != int64(i+1) || e.Position != positions[i] {
				t.Errorf("event %d of a: version %d position %d, want %d %d", i, e.Version, e.Position, i+1, positions[i])
			}
		}
	})
}
