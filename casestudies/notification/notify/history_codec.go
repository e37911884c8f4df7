package notify

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sysdesign/patterns/cqrs"
)

// Every notification writes an acceptance and two or more status events
// per channel, and each GET folds them all back. encoding/json's
// reflection cost several µs per event each way, so acceptedData and
// statusData are written by hand (the same JSON json.Marshal would write,
// minus its HTML escaping) and read by a fast path that takes the JSON
// this code writes and hands anything else to encoding/json.

// newStatusEvent returns the history event of s.
func newStatusEvent(s statusData) cqrs.Event {
	b := make([]byte, 0, 96+len(s.Reason))
	b = append(b, `{"channel":`...)
	b = appendJSONString(b, s.Channel)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(s.Status))
	if s.Attempt != 0 {
		b = append(b, `,"attempt":`...)
		b = strconv.AppendInt(b, int64(s.Attempt), 10)
	}
	b = append(b, `,"at":"`...)
	b = s.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if s.NextAt != nil {
		b = append(b, `,"next_at":"`...)
		b = s.NextAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if s.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, s.Reason)
	}
	b = append(b, '}')
	return cqrs.Event{Type: eventStatus, Data: b}
}

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// decodeStatus reads a status event's payload.
func decodeStatus(data []byte) (statusData, error) {
	if s, ok := decodeStatusFast(data); ok {
		return s, nil
	}
	var s statusData
	err := json.Unmarshal(data, &s)
	return s, err
}

// decodeStatusFast reads exactly the shape newStatusEvent writes when no
// string needs an escape; ok false sends anything else to encoding/json.
func decodeStatusFast(data []byte) (s statusData, ok bool) {
	ok = walkObject(data, func(key []byte, p []byte) ([]byte, bool) {
		switch string(key) { // compared without making a string
		case "channel":
			return cutString(p, &s.Channel)
		case "status":
			return cutString(p, (*string)(&s.Status))
		case "reason":
			return cutString(p, &s.Reason)
		case "at":
			return cutTime(p, &s.At)
		case "next_at":
			s.NextAt = new(time.Time)
			return cutTime(p, s.NextAt)
		case "attempt":
			return cutInt(p, &s.Attempt)
		}
		return nil, false
	})
	return s, ok
}

// walkObject calls field with each key of the JSON object in data and
// what follows its colon; field consumes the value and returns the rest.
// It reports false for anything but a non-empty object without
// whitespace, or when field does.
func walkObject(data []byte, field func(key []byte, p []byte) ([]byte, bool)) bool {
	p := data
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return false
	}
	p = p[1 : len(p)-1]
	seen := 0
	for len(p) > 0 {
		key, rest, ok := cutJSONBytes(p)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return false
		}
		if p, ok = field(key, rest[1:]); !ok {
			return false
		}
		seen++
		if len(p) > 0 {
			if p[0] != ',' || len(p) == 1 {
				return false
			}
			p = p[1:]
		}
	}
	return seen > 0
}

func cutString(p []byte, v *string) ([]byte, bool) {
	s, rest, ok := cutJSONString(p)
	*v = s
	return rest, ok
}

// cutTime reads an RFC 3339 time straight from the bytes (no string is
// made of them: a View has two or three times per event).
func cutTime(p []byte, v *time.Time) ([]byte, bool) {
	raw, rest, ok := cutJSONBytes(p)
	if !ok {
		return nil, false
	}
	return rest, v.UnmarshalText(raw) == nil
}

func cutInt(p []byte, v *int) ([]byte, bool) {
	end := 0
	for end < len(p) && (p[end] == '-' || p[end] >= '0' && p[end] <= '9') {
		end++
	}
	digits := bytes.TrimPrefix(p[:end], []byte("-"))
	if len(digits) > 1 && digits[0] == '0' {
		return nil, false // JSON has no leading zeros
	}
	n, err := strconv.Atoi(string(p[:end]))
	*v = n
	return p[end:], err == nil
}

// cutStrings reads an array of strings without escapes.
func cutStrings(p []byte, v *[]string) ([]byte, bool) {
	if len(p) < 2 || p[0] != '[' {
		return nil, false
	}
	p = p[1:]
	*v = []string{}
	for len(p) > 0 && p[0] != ']' {
		s, rest, ok := cutJSONString(p)
		if !ok || len(rest) == 0 {
			return nil, false
		}
		*v = append(*v, s)
		p = rest
		if p[0] == ',' && len(p) > 1 && p[1] != ']' {
			p = p[1:]
		} else if p[0] != ']' {
			return nil, false
		}
	}
	if len(p) == 0 {
		return nil, false
	}
	return p[1:], true
}

// cutJSONString reads a JSON string without escapes at the start of p.
func cutJSONString(p []byte) (string, []byte, bool) {
	v, rest, ok := cutJSONBytes(p)
	if !ok {
		return "", nil, false
	}
	return internName(v), rest, true
}

// cutJSONBytes reads a JSON string without escapes at the start of p and
// returns its contents, sharing p's memory.
func cutJSONBytes(p []byte) ([]byte, []byte, bool) {
	if len(p) < 2 || p[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(p[1:], '"')
	if end < 0 {
		return nil, nil, false
	}
	v := p[1 : 1+end]
	if bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
		return nil, nil, false
	}
	for _, c := range v {
		if c < 0x20 {
			return nil, nil, false
		}
	}
	return v, p[2+end:], true
}

// internName returns v as a string, without allocating for the names
// nearly every event repeats: statuses, priorities and the usual channel
// names. Anything else is copied as usual.
func internName(v []byte) string {
	switch string(v) { // the compiler compares without making a string
	case string(Queued):
		return string(Queued)
	case string(Scheduled):
		return string(Scheduled)
	case string(Deferred):
		return string(Deferred)
	case string(Sending):
		return string(Sending)
	case string(Sent):
		return string(Sent)
	case string(Retrying):
		return string(Retrying)
	case string(Failed):
		return string(Failed)
	case string(Skipped):
		return string(Skipped)
	case string(Cancelled):
		return string(Cancelled)
	case "critical":
		return "critical"
	case "high":
		return "high"
	case "normal":
		return "normal"
	case "low":
		return "low"
	case "email":
		return "email"
	case "sms":
		return "sms"
	case "push":
		return "push"
	}
	return string(v)
}

// newAcceptedEvent returns the history event of a.
func newAcceptedEvent(a acceptedData) cqrs.Event {
	b := make([]byte, 0, 160+len(a.Subject))
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"user_id":`...)
	b = appendJSONString(b, a.UserID)
	b = append(b, `,"channels":[`...)
	for i, ch := range a.Channels {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, ch)
	}
	b = append(b, `],"priority":`...)
	b = appendJSONString(b, a.Priority)
	if a.Subject != "" {
		b = append(b, `,"subject":`...)
		b = appendJSONString(b, a.Subject)
	}
	if a.SendAt != nil {
		b = append(b, `,"send_at":"`...)
		b = a.SendAt.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	b = append(b, `,"at":"`...)
	b = a.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if a.First != "" {
		b = append(b, `,"first":`...)
		b = appendJSONString(b, string(a.First))
	}
	b = append(b, '}')
	return cqrs.Event{Type: eventAccepted, Data: b}
}

// decodeAccepted reads an acceptance event's payload.
func decodeAccepted(data []byte) (acceptedData, error) {
	var a acceptedData
	ok := walkObject(data, func(key []byte, p []byte) ([]byte, bool) {
		switch string(key) { // compared without making a string
		case "id":
			return cutString(p, &a.ID)
		case "user_id":
			return cutString(p, &a.UserID)
		case "channels":
			return cutStrings(p, &a.Channels)
		case "priority":
			return cutString(p, &a.Priority)
		case "subject":
			return cutString(p, &a.Subject)
		case "send_at":
			a.SendAt = new(time.Time)
			return cutTime(p, a.SendAt)
		case "at":
			return cutTime(p, &a.At)
		case "first":
			return cutString(p, (*string)(&a.First))
		}
		return nil, false
	})
	if ok {
		return a, nil
	}
	a = acceptedData{}
	err := json.Unmarshal(data, &a)
	return a, err
}
