package cqrs

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// An event in Redis is "<version> <unix µs> <body>": the append script
// writes the version and the server's time in front of the body Go
// encoded. The body is binary-safe and cheap to decode:
//
//	'1'  format
//	uvarint len, stream id
//	uvarint len, type
//	uvarint n, then n × (uvarint len, key, uvarint len, value)   metadata
//	the rest: Data (JSON)
const bodyFormat = '1'

func encodeBody(streamID string, e *Event) string {
	n := 1 + 3*binary.MaxVarintLen32 + len(streamID) + len(e.Type) + len(e.Data)
	for k, v := range e.Metadata {
		n += 2*binary.MaxVarintLen32 + len(k) + len(v)
	}
	// A Builder: the body's one allocation, not a buffer and its copy.
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(bodyFormat)
	writeString(&b, streamID)
	writeString(&b, e.Type)
	writeUvarint(&b, uint64(len(e.Metadata)))
	for k, v := range e.Metadata {
		writeString(&b, k)
		writeString(&b, v)
	}
	b.Write(e.Data)
	return b.String()
}

func writeString(b *strings.Builder, s string) {
	writeUvarint(b, uint64(len(s)))
	b.WriteString(s)
}

func writeUvarint(b *strings.Builder, v uint64) {
	var buf [binary.MaxVarintLen64]byte
	b.Write(binary.AppendUvarint(buf[:0], v))
}

type bodyReader struct {
	s   string
	err bool
}

func (r *bodyReader) uvarint() uint64 {
	v, n := binary.Uvarint([]byte(r.s[:min(len(r.s), binary.MaxVarintLen64)]))
	if n <= 0 {
		r.err = true
		return 0
	}
	r.s = r.s[n:]
	return v
}

func (r *bodyReader) string() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.s)) {
		r.err = true
		return ""
	}
	s := r.s[:n]
	r.s = r.s[n:]
	return s
}

// decodeValue decodes an event as the append script stored it.
func decodeValue(v string, pos int64, e *Event) error {
	bad := func(what string) error {
		return fmt.Errorf("cqrs: redis store: event at position %d: malformed %s", pos, what)
	}
	sp := strings.IndexByte(v, ' ')
	if sp < 0 {
		return bad("header")
	}
	ver, err := strconv.ParseInt(v[:sp], 10, 64)
	if err != nil {
		return bad("version")
	}
	v = v[sp+1:]
	sp = strings.IndexByte(v, ' ')
	if sp < 0 {
		return bad("header")
	}
	us, err := strconv.ParseInt(v[:sp], 10, 64)
	if err != nil {
		return bad("time")
	}
	v = v[sp+1:]
	if len(v) == 0 || v[0] != bodyFormat {
		return bad("body format")
	}
	r := bodyReader{s: v[1:]}
	*e = Event{Version: ver, Position: pos, RecordedAt: time.UnixMicro(us)}
	e.StreamID = r.string()
	e.Type = r.string()
	nm := r.uvarint()
	if !r.err && nm > 0 {
		if nm > uint64(len(r.s)) {
			return bad("metadata")
		}
		e.Metadata = make(map[string]string, nm)
		for i := uint64(0); i < nm && !r.err; i++ {
			k := r.string()
			e.Metadata[k] = r.string()
		}
	}
	if r.err {
		return bad("body")
	}
	if len(r.s) > 0 {
		e.Data = []byte(r.s)
	}
	return nil
}
