package cqrs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzCodec: what encodeBody writes (behind the script's version and time)
// decodes to the same event, and no input makes decodeValue panic.
func FuzzCodec(f *testing.F) {
	f.Add("acc-1", "Deposited", "event-id", "a-1", []byte(`{"amount":10}`), int64(3), int64(1_700_000_000_123456))
	f.Add("", "T", "", "", []byte(nil), int64(1), int64(0))
	f.Add("s p{a}c:e", "ü", "k\x00", "v v", []byte(`"x y"`), int64(1<<40), int64(-5))
	f.Fuzz(func(t *testing.T, stream, typ, mk, mv string, data []byte, version, us int64) {
		e := Event{Type: typ, Data: data}
		if mk != "" {
			e.Metadata = map[string]string{mk: mv}
		}
		raw := itoa(version) + " " + itoa(us) + " " + encodeBody(stream, &e)
		var got Event
		if err := decodeValue(raw, 42, &got); err != nil {
			if version >= 0 && us >= 0 {
				t.Fatalf("decode: %v", err)
			}
			return
		}
		if got.StreamID != stream || got.Type != typ || string(got.Data) != string(data) || got.Version != version ||
			got.Position != 42 || !got.RecordedAt.Equal(time.UnixMicro(us)) || len(got.Metadata) != len(e.Metadata) || got.Metadata[mk] != e.Metadata[mk] {
			t.Fatalf("round trip: %s", fmtEvent(got))
		}
		// Any input: an error or an event, never a panic.
		_ = decodeValue(string(data), 1, &got)
		_ = decodeValue("1 2 "+string(data), 1, &got)
		_ = decodeValue("1 2 1"+stream, 1, &got)
	})
}

func TestDecodeValueRejectsGarbage(t *testing.T) {
	var e Event
	for _, v := range []string{"", "1", "1 2", "x 2 1", "1 x 1", "1 2 ", "1 2 2abc", "1 2 1\x05ab", "1 2 1\x01a\x01b\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"} {
		if err := decodeValue(v, 1, &e); err == nil {
			t.Errorf("%q decoded: %s", v, fmtEvent(e))
		}
	}
	// A body larger than any Lua chunk, and JSON data with spaces, survive.
	big := Event{Type: "T", Data: json.RawMessage(`{"s": "` + strings.Repeat("a b", 10000) + `"}`)}
	if err := decodeValue("7 8 "+encodeBody("s", &big), 9, &e); err != nil || string(e.Data) != string(big.Data) {
		t.Fatalf("big: %v", err)
	}
}
