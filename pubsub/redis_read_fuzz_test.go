package pubsub

import (
	"slices"
	"strconv"
	"testing"
)

// value builds a reply value (as go-redis hands them over: strings,
// integers, nil, lists and maps, nested) from data, for fuzzing the
// hand-written reply parsers with what a broken or hostile server could
// send.
func value(data []byte, depth int) (any, []byte) {
	if len(data) == 0 {
		return nil, data
	}
	b, data := data[0], data[1:]
	switch b % 6 {
	case 0:
		return nil, data
	case 1:
		return int64(b), data
	case 2, 3:
		n := int(b>>3) % 8
		n = min(n, len(data))
		return string(data[:n]), data[n:]
	case 4:
		if depth > 4 {
			return "", data
		}
		var l []any
		for range int(b>>3) % 5 {
			var v any
			v, data = value(data, depth+1)
			l = append(l, v)
		}
		return l, data
	default:
		if depth > 4 {
			return "", data
		}
		m := map[any]any{}
		for range int(b>>3) % 3 {
			var k, v any
			k, data = value(data, depth+1)
			v, data = value(data, depth+1)
			if k != nil {
				if _, ok := k.([]any); !ok {
					if _, ok := k.(map[any]any); !ok {
						m[k] = v
					}
				}
			}
		}
		return m, data
	}
}

// checkEntries fails t for an entry no consumer could settle.
func checkEntries(t *testing.T, es []entry) {
	for _, e := range es {
		if e.id == "" || e.fields == nil || e.attempt < 1 {
			t.Fatalf("unusable entry %+v", e)
		}
		_, _ = decodeFields(&e) // must not panic either
	}
}

// FuzzParseReplies: the read and claim reply parsers never panic and never
// return an entry without an id, fields and an attempt, whatever the
// reply; and a well-formed read reply, RESP2 or RESP3, comes back entry
// for entry.
func FuzzParseReplies(f *testing.F) {
	f.Add([]byte{4 << 3, 4, 2 << 3, 'a', 'b'})
	f.Add([]byte("\x2c\x24\x1a1-0\x1cidid\x22topic"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, rest := value(data, 0)
		checkEntries(t, parseReadReply(v))
		if l, ok := v.([]any); ok {
			checkEntries(t, claimedEntries(l))
		}

		// Well-formed: entries built from what is left of data.
		var want []entry
		for i := 0; len(rest) > 0 && i < 20; i++ {
			n := min(int(rest[0]%6), len(rest)-1)
			fields := []any{"id", strconv.Itoa(i), "topic", string(rest[1 : 1+n]), "payload", string(rest[1 : 1+n])}
			want = append(want, entry{id: strconv.Itoa(i+1) + "-0", fields: fields, attempt: 1})
			rest = rest[1+n:]
		}
		list := make([]any, len(want))
		for i, e := range want {
			list[i] = []any{e.id, e.fields}
		}
		for name, reply := range map[string]any{
			"resp2": []any{[]any{"stream", list}},
			"resp3": map[any]any{"stream": list},
		} {
			got := parseReadReply(reply)
			if len(got) != len(want) {
				t.Fatalf("%s: %d entries, want %d", name, len(got), len(want))
			}
			for i := range got {
				if got[i].id != want[i].id || !slices.Equal(got[i].fields, want[i].fields) || got[i].attempt != 1 {
					t.Fatalf("%s: entry %d is %+v, want %+v", name, i, got[i], want[i])
				}
			}
		}
	})
}
