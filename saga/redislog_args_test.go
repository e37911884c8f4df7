package saga

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The hand-written entry encoding says what json.Marshal of a wireEntry
// says (decodeRecord reads both, and old processes read what new ones
// write): every field, every omission, strings that need escaping.
func TestEntryJSONMatchesWireEntry(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	entries := []Entry{
		{Kind: Started, Step: -1, Data: []byte(`{"a":1}`), At: at, Metadata: map[string]string{"tenant": "t1", "q\"": "\u2028"}},
		{Kind: StepBegun, Step: 0, StepName: "reserve", Data: []byte(`{"a":1}`), At: at},
		{Kind: StepDone, Step: 2, StepName: "charge", Attempts: 3, Duration: 1500 * time.Millisecond, At: at},
		{Kind: StepFailed, Step: 1, StepName: "naïve\tstep", Attempts: 1, Err: "card \"declined\"\n<&>\\", At: at},
		{Kind: Finished, Step: -1, StepName: "charge", Status: Compensated, Err: "bad \xff utf-8", Data: []byte(`null`), At: at},
		{Kind: Finished, Step: -1, Status: Completed, At: time.Time{}},
		{Kind: CompensationDone, Step: 0, StepName: "r", Attempts: 1, Duration: -1, Data: []byte(`[1, 2]`), At: at},
	}
	for i := range entries {
		e := &entries[i]
		got, err := appendEntryJSON(nil, e, false)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		want, err := marshalWireEntry(e)
		if err != nil {
			t.Fatalf("entry %d: json.Marshal: %v", i, err)
		}
		var g, w wireEntry
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("entry %d: %s is not JSON: %v", i, got, err)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("entry %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// Data that is not JSON is refused by a Log used directly, as json.Marshal
// refused it; a Saga's own data is trusted as encoding/json made it.
func TestEntryJSONRefusesInvalidData(t *testing.T) {
	e := Entry{Kind: StepBegun, Step: 0, StepName: "s", Data: []byte(`{"a":`)}
	if _, err := appendEntryJSON(nil, &e, false); err == nil {
		t.Fatal("invalid data encoded without an error")
	}
	var se *json.SyntaxError
	if _, err := appendEntryJSON(nil, &e, false); !errors.As(err, &se) {
		t.Errorf("err = %v, want a json.SyntaxError", err)
	}
}

// The entries of one write are separate arguments, each exactly its own
// JSON, however the buffer grew while they were encoded.
func TestRedisArgsEncodeSlicesEachEntry(t *testing.T) {
	var a redisArgs
	big := []byte(`"` + strings.Repeat("x", 5000) + `"`)
	es := []Entry{
		{Kind: StepDone, Step: 0, StepName: "a", Data: big},
		{Kind: StepBegun, Step: 1, StepName: "b", Data: []byte(`1`)},
		{Kind: Finished, Step: -1, Status: Completed, Data: big},
	}
	for round := 0; round < 2; round++ {
		a.args = a.args[:0]
		if err := a.encode(es, true); err != nil {
			t.Fatal(err)
		}
		if len(a.args) != len(es) {
			t.Fatalf("%d args for %d entries", len(a.args), len(es))
		}
		for i, arg := range a.args {
			b, _ := arg.(*entryArg).MarshalBinary()
			want, _ := appendEntryJSON(nil, &es[i], true)
			if string(b) != string(want) {
				t.Errorf("round %d, arg %d: %.60s…, want %.60s…", round, i, b, want)
			}
		}
	}
}

// marshalWireEntry is the reference encoding: json.Marshal of a wireEntry.
func marshalWireEntry(e *Entry) (string, error) {
	w := wireEntry{Kind: e.Kind.String(), Step: e.Step, StepName: e.StepName, Attempts: e.Attempts,
		Duration: int64(e.Duration), Err: e.Err, At: e.At.UnixNano(), Data: e.Data, Meta: e.Metadata}
	if e.Kind == Finished {
		w.Status = e.Status.String()
	}
	b, err := json.Marshal(&w)
	if err != nil {
		return "", fmt.Errorf("saga: redis log: encoding entry: %w", err)
	}
	return string(b), nil
}
