package saga

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sysdesign/patterns/internal/redistest"
)

// A saga that the previous version (json.Marshal entries) finished is
// read by this one: Load gives its entries as they were, and Execute of
// its id returns the recorded result without running anything.
func TestRedisLogReadsRecordsOfThePreviousVersion(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		l, err := NewRedisLog(tg.Client, WithPrefix(tg.Prefix), WithRetention(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		at := time.Unix(1700000000, 5)
		data := []byte(`{"ID":"o\u003c1\u003e","Amount":7,"Reservation":"r \u2028 \ufffd","Charge":"","Shipment":""}`)
		entries := []Entry{
			{Kind: Started, Step: -1, Data: data, At: at, Metadata: map[string]string{"tenant": "t\xff"}},
			{Kind: StepBegun, Step: 0, StepName: "reserve", Data: data, At: at},
			{Kind: StepFailed, Step: 0, StepName: "reserve", Attempts: 2, Duration: time.Second, Err: "no \"stock\"\n\x01", At: at},
			{Kind: Finished, Step: -1, StepName: "reserve", Status: Compensated, Err: "no \"stock\"\n\x01", Data: data, At: at},
		}
		keys := l.keys("old", "x")
		for _, e := range entries {
			raw, err := oldEncode(&e)
			if err != nil {
				t.Fatal(err)
			}
			if err := tg.Client.RPush(ctx, keys[1], raw).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tg.Client.HSet(ctx, keys[0], "s", "compensated", "t", 1).Err(); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys[:2] {
			tg.Client.PExpire(ctx, k, time.Hour)
		}
		rec, err := l.Load(ctx, "old", "x")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Status != Compensated || len(rec.Entries) != len(entries) {
			t.Fatalf("record %+v, want compensated with %d entries", rec, len(entries))
		}
		for i := range entries {
			want, _ := oldDecode(must(oldEncode(&entries[i])))
			sameEntry(t, entries[i].Kind.String(), rec.Entries[i], want)
		}
		ran := false
		s := mustNew(t, "old", []Step[order]{{Name: "reserve", Action: func(context.Context, *order) error { ran = true; return nil }}}, WithLog(l))
		res, err := s.Execute(ctx, "x", order{})
		if ran {
			t.Error("a finished saga's step ran again")
		}
		if res == nil || res.Status != Compensated || res.Data.Amount != 7 || res.Data.ID != "o<1>" {
			t.Fatalf("Execute = %+v, %v; want the recorded compensated result", res, err)
		}
	})
}

// A record whose entries cannot be read is an error naming the entry,
// not a panic and not a record with made-up fields.
func TestRedisLogRefusesAHostileRecord(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		ctx := context.Background()
		l, err := NewRedisLog(tg.Client, WithPrefix(tg.Prefix), WithRetention(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		keys := l.keys("bad", "x")
		tg.Client.RPush(ctx, keys[1], `{"k":"started","s":-1,"t":1}`, `{"k":"finished","s":-1,"st":"won","t":2}`)
		tg.Client.HSet(ctx, keys[0], "s", "completed", "t", 1)
		for _, k := range keys[:2] {
			tg.Client.PExpire(ctx, k, time.Minute)
		}
		_, err = l.Load(ctx, "bad", "x")
		if err == nil || !strings.Contains(err.Error(), "entry 2") || !strings.Contains(err.Error(), `"won"`) {
			t.Fatalf("Load = %v, want an error naming entry 2 and its status", err)
		}
	})
}

func must[V any](v V, err error) V {
	if err != nil {
		panic(err)
	}
	return v
}
