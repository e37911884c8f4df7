package saga

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// oldWireEntry is how versions before the hand-written encoder wrote and
// read an entry: json.Marshal and json.Unmarshal of this struct. Records
// they wrote must still load, and they must read what this version writes
// as they read their own.
type oldWireEntry struct {
	Kind     string            `json:"k"`
	Step     int               `json:"s"`
	StepName string            `json:"n,omitempty"`
	Attempts int               `json:"a,omitempty"`
	Duration int64             `json:"d,omitempty"`
	Err      string            `json:"e,omitempty"`
	Status   string            `json:"st,omitempty"`
	At       int64             `json:"t"`
	Data     json.RawMessage   `json:"data,omitempty"`
	Meta     map[string]string `json:"m,omitempty"`
}

// oldEncode is the previous version's encoder.
func oldEncode(e *Entry) ([]byte, error) {
	w := oldWireEntry{Kind: e.Kind.String(), Step: e.Step, StepName: e.StepName, Attempts: e.Attempts,
		Duration: int64(e.Duration), Err: e.Err, At: e.At.UnixNano(), Data: e.Data, Meta: e.Metadata}
	if e.Kind == Finished {
		w.Status = e.Status.String()
	}
	return json.Marshal(&w)
}

// oldDecode is how the previous version read an entry, as an Entry.
func oldDecode(raw []byte) (Entry, error) {
	var w oldWireEntry
	if err := json.Unmarshal(raw, &w); err != nil {
		return Entry{}, err
	}
	k, ok := kindByName(w.Kind)
	if !ok {
		return Entry{}, errors.New("unknown kind")
	}
	e := Entry{Kind: k, Step: w.Step, StepName: w.StepName, Attempts: w.Attempts, Duration: time.Duration(w.Duration),
		Err: w.Err, At: time.Unix(0, w.At), Data: w.Data, Metadata: w.Meta}
	if k == Finished {
		if e.Status, ok = statusByName(w.Status); !ok {
			return Entry{}, errors.New("unknown status")
		}
	}
	return e, nil
}

// oddEntries are entries whose strings need every kind of care.
func oddEntries() []Entry {
	at := time.Unix(1700000000, 123456789)
	return []Entry{
		{Kind: Started, Step: -1, Data: []byte(`{"a":1}`), At: at, Metadata: map[string]string{"tenant": "t1", "q\"": "\u2028", "bin\xff": "\x00\x1f\x7f"}},
		{Kind: StepBegun, Step: 0, StepName: "reserve", Data: []byte(`{"a":"<&>\u2029"}`), At: at},
		{Kind: StepDone, Step: 2, StepName: "charge", Attempts: 3, Duration: 1500 * time.Millisecond, At: at},
		{Kind: StepFailed, Step: 1, StepName: "naïve\tstep", Attempts: 1, Err: "card \"declined\"\n<&>\\ \b\f\r/", At: at},
		{Kind: Finished, Step: -1, StepName: "charge", Status: Compensated, Err: "bad \xff utf-8 \xed\xa0\x80 \xc3 \xef\xbf\xbd", Data: []byte(`null`), At: at},
		{Kind: Finished, Step: -1, Status: Completed, At: time.Unix(0, math.MinInt64)},
		{Kind: CompensationDone, Step: math.MaxInt32, StepName: "r", Attempts: -1, Duration: math.MinInt64, Data: []byte(`[1, 2]`), At: time.Unix(0, math.MaxInt64)},
		{Kind: CompensationFailed, Step: 0, StepName: strings.Repeat("\U0001F600", 3), Err: "\x80\x81 lone", At: at},
		{Kind: Retrying, Step: 0, StepName: "x", At: at, Metadata: map[string]string{}},
		{Kind: StepBegun, Step: 0, StepName: "no time"},
	}
}

// sameEntry compares entries as a log must keep them: Data compacted,
// times equal, empty and nil metadata alike.
func sameEntry(t *testing.T, what string, got, want Entry) {
	t.Helper()
	if !sameJSON(got.Data, want.Data) {
		t.Errorf("%s: Data %s, want %s", what, got.Data, want.Data)
	}
	got.Data, want.Data = nil, nil
	if want.Kind != Finished {
		want.Status = 0 // a Finished entry's only
	}
	if !got.At.Equal(want.At) {
		t.Errorf("%s: At %v, want %v", what, got.At, want.At)
	}
	got.At, want.At = time.Time{}, time.Time{}
	if len(got.Metadata) == 0 && len(want.Metadata) == 0 {
		got.Metadata, want.Metadata = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// asOldRead is e as the previous version read it: the zero time (written
// as zeroAtNanos, as before) was a moment in 1754.
func asOldRead(e Entry) Entry {
	if e.At.IsZero() {
		e.At = time.Unix(0, zeroAtNanos)
	}
	return e
}

// sameJSON reports whether a and b are the same JSON value (json.Marshal
// escaped <, > and & in data, which is the same value), or both empty.
func sameJSON(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if da.Decode(&va) != nil || db.Decode(&vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}

// Every entry comes back byte for byte: control characters, quotes,
// U+2028, invalid UTF-8 in names, errors and metadata, extreme numbers.
func TestEntryJSONRoundTrips(t *testing.T) {
	for i, e := range oddEntries() {
		raw, err := appendEntryJSON(nil, &e, false)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !json.Valid(raw) || !utf8.Valid(raw) {
			t.Fatalf("entry %d: %q is not valid JSON", i, raw)
		}
		got, err := decodeEntry(raw)
		if err != nil {
			t.Fatalf("entry %d: %s: %v", i, raw, err)
		}
		sameEntry(t, "entry "+string(rune('0'+i)), got, e)
	}
}

// A process of the previous version reads what this one writes just as it
// read what it wrote itself (a mixed fleet during an upgrade), and this
// version reads what the previous one wrote as the previous one did.
func TestEntryJSONAndOldVersionsAgree(t *testing.T) {
	for i, e := range oddEntries() {
		nw, err := appendEntryJSON(nil, &e, false)
		if err != nil {
			t.Fatal(err)
		}
		old, err := oldEncode(&e)
		if err != nil {
			t.Fatal(err)
		}
		oldReadsNew, err1 := oldDecode(nw)
		oldReadsOld, err2 := oldDecode(old)
		if err1 != nil || err2 != nil {
			t.Fatalf("entry %d: %v, %v", i, err1, err2)
		}
		sameEntry(t, "old version reading entry "+string(rune('0'+i)), oldReadsNew, oldReadsOld)
		newReadsOld, err := decodeEntry(old)
		if err != nil {
			t.Fatalf("entry %d: %s: %v", i, old, err)
		}
		sameEntry(t, "reading old entry "+string(rune('0'+i)), asOldRead(newReadsOld), oldReadsOld)
	}
}

// Records as the previous version stored them, byte for byte.
func TestDecodeEntryReadsOldRecords(t *testing.T) {
	at := time.Unix(0, 1700000000123456789)
	cases := []struct {
		raw  string
		want Entry
	}{
		{`{"k":"started","s":-1,"t":1700000000123456789,"data":{"OrderID":"o\u003c1\u003e","Total":12},"m":{"a":"\u2028","b":"\ufffd"}}`,
			Entry{Kind: Started, Step: -1, At: at, Data: []byte(`{"OrderID":"o\u003c1\u003e","Total":12}`), Metadata: map[string]string{"a": "\u2028", "b": "\ufffd"}}},
		{`{"k":"step-failed","s":1,"n":"charge","a":3,"d":1500000000,"e":"card \"declined\"\n\u0026 \ufffd","t":1700000000123456789}`,
			Entry{Kind: StepFailed, Step: 1, StepName: "charge", Attempts: 3, Duration: 1500 * time.Millisecond, Err: "card \"declined\"\n& \ufffd", At: at}},
		{`{"k":"finished","s":-1,"n":"charge","e":"x","st":"compensated","t":1700000000123456789,"data":null}`,
			Entry{Kind: Finished, Step: -1, StepName: "charge", Err: "x", Status: Compensated, At: at, Data: []byte(`null`)}},
	}
	for i, c := range cases {
		got, err := decodeEntry([]byte(c.raw))
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		sameEntry(t, c.raw, got, c.want)
		ref, err := oldDecode([]byte(c.raw))
		if err != nil {
			t.Fatal(err)
		}
		sameEntry(t, "as the old version read "+c.raw, got, ref)
	}
}

// What cannot be written so that it reads back is refused with an error
// that says why, and nothing is appended.
func TestEntryJSONRefusesWhatCannotRoundTrip(t *testing.T) {
	at := time.Unix(1, 0)
	cases := map[string]Entry{
		"data is not JSON": {Kind: StepBegun, StepName: "s", Data: []byte(`{"a":`), At: at},
		"unknown kind":     {Kind: EntryKind(99), At: at},
		"kind zero":        {At: at},
		"unknown status":   {Kind: Finished, Status: Status(7), At: at},
		"year 1600":        {Kind: Started, Step: -1, At: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year 2300":        {Kind: Started, Step: -1, At: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for name, e := range cases {
		b, err := appendEntryJSON([]byte("prefix"), &e, false)
		if err == nil || !strings.HasPrefix(err.Error(), errEncodeEntry) {
			t.Errorf("%s: err = %v, want an encoding error", name, err)
		}
		if string(b) != "prefix" {
			t.Errorf("%s: buffer %q, want it untouched", name, b)
		}
	}
	var se *json.SyntaxError
	e := cases["data is not JSON"]
	if _, err := appendEntryJSON(nil, &e, false); !errors.As(err, &se) {
		t.Errorf("err = %v, want a json.SyntaxError", err)
	}
}

// Hostile records are errors, never a panic and never a quiet default.
func TestDecodeEntryRefusesHostileRecords(t *testing.T) {
	for _, raw := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"k":"started"`, `{"k":"started","s":1}x`,
		`{"k":"nope","s":0,"t":0}`, `{"s":0,"t":0}`, `{"k":null,"s":0,"t":0}`,
		`{"k":"finished","s":-1,"t":0}`, `{"k":"finished","s":-1,"st":"weird","t":0}`,
		`{"k":"started","s":"1","t":0}`, `{"k":"started","s":1.5,"t":0}`,
		`{"k":"started","s":0,"t":1e30}`, `{"k":"started","s":0,"t":99999999999999999999}`,
		`{"k":5,"s":0,"t":0}`, `{"k":"started","n":{},"s":0,"t":0}`,
		`{"k":"started","s":0,"t":0,"m":[]}`, `{"k":"started","s":0,"t":0,"m":{"a":1}}`,
		`{"k":"started","s":0,"t":0,"m":"x"}`, `{"k":"started","s":0,"t":0,"m":{"a":{}}}`,
		`{"k":"started","s":0,"t":0,"data":{"a":}}`, "{\"k\":\"started\x01\",\"s\":0,\"t\":0}",
	} {
		if e, err := decodeEntry([]byte(raw)); err == nil {
			t.Errorf("%q decoded to %+v, want an error", raw, e)
		}
	}
}

// Unknown fields (a later version's) are ignored, as they always were;
// field names match as encoding/json matches them.
func TestDecodeEntryIgnoresUnknownFields(t *testing.T) {
	raw := `{"future":{"x":[1,"\"}"]},"k":"step-done","S":2,"n":"a","t":5,"m":{"a":null,"b":"x","b":"y"}}`
	e, err := decodeEntry([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := Entry{Kind: StepDone, Step: 2, StepName: "a", At: time.Unix(0, 5), Metadata: map[string]string{"a": "", "b": "y"}}
	sameEntry(t, raw, e, want)
}

// FuzzDecodeEntry: any bytes decode without a panic, and where the input
// is valid UTF-8 without lone-surrogate escapes (where this decoder keeps
// bytes that encoding/json replaces), it agrees with the previous
// version's encoding/json decoding on what is accepted and what comes out.
func FuzzDecodeEntry(f *testing.F) {
	for _, e := range oddEntries() {
		if b, err := appendEntryJSON(nil, &e, false); err == nil {
			f.Add(b)
		}
		if b, err := oldEncode(&e); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"k":"finished","S":-1,"st":"completed","t":1,"m":{"\ud83d\ude00":"\ud800x"},"x":[]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := decodeEntry(raw)
		if !utf8.Valid(raw) || hasByteEscape(raw) {
			return
		}
		ref, refErr := oldDecode(raw)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("%q: err %v, encoding/json's %v", raw, err, refErr)
		}
		if err == nil {
			if got = asOldRead(got); !reflect.DeepEqual(got, ref) {
				t.Fatalf("%q:\n got %+v\nwant %+v", raw, got, ref)
			}
		}
	})
}

// hasByteEscape reports whether raw may hold \udc80–\udcff, the escape
// of a byte that is not UTF-8 (encoding/json reads it as U+FFFD).
func hasByteEscape(raw []byte) bool {
	low := bytes.ToLower(raw)
	for i := bytes.Index(low, []byte(`\udc`)); i >= 0; {
		if j := i + 4; j < len(low) && strings.IndexByte("89abcdef", low[j]) >= 0 {
			return true
		}
		n := bytes.Index(low[i+1:], []byte(`\udc`))
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return false
}

// FuzzEntryJSON: any entry either round-trips byte for byte or is refused,
// and the previous version reads it as it read its own encoding.
func FuzzEntryJSON(f *testing.F) {
	f.Add(uint8(4), -1, "step", "err \xff\"", "k", "v\u2028", []byte(`{"a":[1, 2]}`), int64(3), int64(1700000000000000000), uint8(1))
	f.Add(uint8(8), 2, "", "", "", "", []byte(`null`), int64(0), int64(0), uint8(2))
	f.Fuzz(func(t *testing.T, kind uint8, step int, name, msg, mk, mv string, data []byte, d, at int64, status uint8) {
		e := Entry{Kind: EntryKind(kind % 11), Step: step, StepName: name, Attempts: int(d % 7), Duration: time.Duration(d),
			Err: msg, Status: Status(status % 6), Data: data, At: time.Unix(0, at)}
		if mk != "" || mv != "" {
			e.Metadata = map[string]string{mk: mv, "fixed": mv + mk}
		}
		raw, err := appendEntryJSON(nil, &e, false)
		if err != nil {
			if e.Kind >= Started && e.Kind <= Retrying && (e.Kind != Finished || e.Status <= Failed) && (len(data) == 0 || json.Valid(data)) {
				t.Fatalf("%+v refused: %v", e, err)
			}
			return
		}
		if !json.Valid(raw) || !utf8.Valid(raw) {
			t.Fatalf("%q is not valid JSON", raw)
		}
		got, err := decodeEntry(raw)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		sameEntry(t, string(raw), got, e)
		old, err := oldEncode(&e)
		if err != nil {
			t.Fatal(err)
		}
		oldReadsNew, err1 := oldDecode(raw)
		oldReadsOld, err2 := oldDecode(old)
		if err1 != nil || err2 != nil {
			t.Fatalf("%q: %v, %v", raw, err1, err2)
		}
		sameEntry(t, "old version reading "+string(raw), oldReadsNew, oldReadsOld)
	})
}
