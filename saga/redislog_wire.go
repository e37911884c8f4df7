package saga

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// A RedisLog keeps each entry as one JSON object:
//
//	{"k":kind,"s":step,"n":step name,"a":attempts,"d":duration ns,
//	 "e":error,"st":status,"t":unix ns,"data":T's JSON,"m":{metadata}}
//
// with n, a, d, e, data and m left out when empty or zero, and st on
// Finished entries only. Versions before this one wrote it with
// json.Marshal of a struct of those fields and read it with
// json.Unmarshal; this one writes it by hand (appendEntryJSON) and reads it
// with decodeEntry, which returns for every record an older version wrote
// what json.Unmarshal returned, so a log outlives an upgrade.
//
// Strings are kept byte for byte. JSON holds only valid UTF-8, so a byte
// that is not part of valid UTF-8 (an error message quoting binary data)
// is written as the escape of a lone low surrogate, \udc80 to \udcff,
// which no valid UTF-8 text can produce; decodeEntry turns it back into
// the byte. encoding/json reads such an escape as U+FFFD, which is just
// what json.Marshal wrote for that byte before: in a fleet that mixes
// versions, an older process reads what a newer one wrote as it read its
// own records, and a newer one reads everything exactly.

// minEntryTime and maxEntryTime bound the times an entry can hold: "t" is
// nanoseconds since 1970 in an int64. The zero time (an entry given to a
// Log without one) is written as zeroAtNanos, the number that
// time.Time{}.UnixNano() returns and older versions wrote for it, and
// read back as the zero time; older versions read it as a moment in 1754,
// as they always did. (An entry of exactly that moment, 1754-08-30
// 22:43:41.128654848 UTC, reads as the zero time.)
var (
	minEntryTime = time.Unix(0, math.MinInt64)
	maxEntryTime = time.Unix(0, math.MaxInt64)
	zeroAtNanos  = time.Time{}.UnixNano()
)

// errEncodeEntry prefixes every encoding error.
const errEncodeEntry = "saga: redis log: encoding entry"

// appendEntryJSON appends e as the JSON object described above. trusted:
// e.Data is the compact JSON that encoding/json made (a Saga's own run),
// copied as it is; otherwise it is validated and compacted, as json.Marshal
// did. An entry that could not be read back as it is — a kind or a final
// status without a name, a time other than zero outside 1678–2262, data that is not JSON
// — is an error, and b is returned as it was.
func appendEntryJSON(b []byte, e *Entry, trusted bool) ([]byte, error) {
	if e.Kind <= 0 || int(e.Kind) >= len(kindNames) {
		return b, fmt.Errorf("%s: unknown kind %d", errEncodeEntry, int(e.Kind))
	}
	if e.Kind == Finished && (e.Status < 0 || int(e.Status) >= len(statusNames)) {
		return b, fmt.Errorf("%s: finished with unknown status %d", errEncodeEntry, int(e.Status))
	}
	at := zeroAtNanos
	if !e.At.IsZero() {
		if e.At.Before(minEntryTime) || e.At.After(maxEntryTime) {
			return b, fmt.Errorf("%s: time %v is outside the years 1678 to 2262 that the log can hold", errEncodeEntry, e.At)
		}
		at = e.At.UnixNano()
	}
	start := len(b)
	b = append(b, `{"k":`...)
	b = appendJSONString(b, kindNames[e.Kind])
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, int64(e.Step), 10)
	if e.StepName != "" {
		b = append(b, `,"n":`...)
		b = appendJSONString(b, e.StepName)
	}
	if e.Attempts != 0 {
		b = append(b, `,"a":`...)
		b = strconv.AppendInt(b, int64(e.Attempts), 10)
	}
	if e.Duration != 0 {
		b = append(b, `,"d":`...)
		b = strconv.AppendInt(b, int64(e.Duration), 10)
	}
	if e.Err != "" {
		b = append(b, `,"e":`...)
		b = appendJSONString(b, e.Err)
	}
	if e.Kind == Finished {
		b = append(b, `,"st":`...)
		b = appendJSONString(b, statusNames[e.Status])
	}
	b = append(b, `,"t":`...)
	b = strconv.AppendInt(b, at, 10)
	if len(e.Data) > 0 {
		b = append(b, `,"data":`...)
		if trusted {
			b = append(b, e.Data...)
		} else {
			buf := bytes.NewBuffer(b)
			if err := json.Compact(buf, e.Data); err != nil {
				return b[:start], fmt.Errorf("%s: data is not JSON: %w", errEncodeEntry, err)
			}
			b = buf.Bytes()
		}
	}
	if len(e.Metadata) > 0 {
		b = append(b, `,"m":{`...)
		// Sorted, as json.Marshal wrote it: one map, one encoding.
		for i, k := range slices.Sorted(maps.Keys(e.Metadata)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, e.Metadata[k])
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// wireEntry is what decodeEntry reads an entry into. encoding/json parses
// the object (field names matched as it always matched them, unknown
// fields ignored, numbers checked against their types); the strings are
// unquoted by wireString, byte for byte, and the metadata by
// decodeWireMeta.
type wireEntry struct {
	Kind     wireString      `json:"k"`
	Step     int             `json:"s"`
	StepName wireString      `json:"n"`
	Attempts int             `json:"a"`
	Duration int64           `json:"d"`
	Err      wireString      `json:"e"`
	Status   wireString      `json:"st"`
	At       int64           `json:"t"`
	Data     json.RawMessage `json:"data"`
	Meta     json.RawMessage `json:"m"`
}

// wireString is a string of a wire entry, unquoted by unquoteWire.
type wireString string

// UnmarshalJSON implements json.Unmarshaler: null leaves the string as it
// is (as for a string field), anything but a string is an error.
func (s *wireString) UnmarshalJSON(raw []byte) error {
	if string(raw) == "null" {
		return nil
	}
	v, err := unquoteWire(raw)
	if err != nil {
		return err
	}
	*s = wireString(v)
	return nil
}

// decodeEntry reads one entry that appendEntryJSON, or json.Marshal in
// older versions, wrote.
func decodeEntry(raw []byte) (Entry, error) {
	var w wireEntry
	if err := json.Unmarshal(raw, &w); err != nil {
		return Entry{}, err
	}
	k, ok := kindByName(string(w.Kind))
	if !ok {
		return Entry{}, fmt.Errorf("unknown kind %q", w.Kind)
	}
	meta, err := decodeWireMeta(w.Meta)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Kind: k, Step: w.Step, StepName: string(w.StepName), Attempts: w.Attempts,
		Duration: time.Duration(w.Duration), Err: string(w.Err), Data: w.Data, Metadata: meta}
	if w.At != zeroAtNanos {
		e.At = time.Unix(0, w.At)
	}
	if k == Finished {
		if e.Status, ok = statusByName(string(w.Status)); !ok {
			return Entry{}, fmt.Errorf("finished with unknown status %q", w.Status)
		}
	}
	return e, nil
}

// errNotEntryString is the error for a JSON value that is not a string
// where an entry has one.
var errNotEntryString = errors.New("a string field holds something else")

func decodeRecord(saga, id string, status, entries any) (*Record, error) {
	s, _ := status.(string)
	st, ok := statusByName(s)
	if !ok {
		return nil, fmt.Errorf("%w: status %q", errBadReply, s)
	}
	list, ok := entries.([]any)
	if !ok {
		return nil, errBadReply
	}
	rec := &Record{Saga: saga, ID: id, Status: st, Entries: make([]Entry, len(list))}
	for i, v := range list {
		raw, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: entry %d of %s/%s is a %T", errBadReply, i+1, saga, id, v)
		}
		e, err := decodeEntry([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("saga: redis log: entry %d of %s/%s: %w", i+1, saga, id, err)
		}
		rec.Entries[i] = e
	}
	return rec, nil
}
