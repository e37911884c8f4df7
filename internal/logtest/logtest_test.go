package logtest

import (
	"bytes"
	"log/slog"
	"testing"
)

func TestRecords(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	l.Warn("one", "k", 1)
	l.Error("two")
	recs := Records(t, buf.String())
	if len(recs) != 2 || recs[0]["msg"] != "one" || recs[0]["k"] != float64(1) || recs[1]["level"] != "ERROR" {
		t.Fatalf("records: %v", recs)
	}
	if got := Records(t, ""); len(got) != 0 {
		t.Fatalf("no output: %v", got)
	}
}
