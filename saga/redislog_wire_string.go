package saga

import (
	"errors"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string that unquoteWire reads back
// byte for byte: quote, backslash and control characters escaped as
// json.Marshal escapes them, U+2028 and U+2029 too (JavaScript readers
// take them for line ends), and each byte that is not part of valid UTF-8
// as \udc80–\udcff (see the wire format above). Everything else is copied
// as it is.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', 'd', 'c', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var errBadJSONString = errors.New("malformed JSON string")

// unquoteWire returns the string that the JSON string literal raw holds,
// as encoding/json does, except that it keeps bytes as they are rather
// than replacing those that are not valid UTF-8 with U+FFFD, and reads a
// lone \udc80–\udcff as the byte it stands for (see appendJSONString).
func unquoteWire(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", errNotEntryString
	}
	s := raw[1 : len(raw)-1]
	i := 0
	for i < len(s) && s[i] != '\\' {
		i++
	}
	if i == len(s) {
		return string(s), nil // nothing escaped: the common case
	}
	out := make([]byte, i, len(s))
	copy(out, s[:i])
	for i < len(s) {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 == len(s) {
			return "", errBadJSONString
		}
		switch e := s[i+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(s[i+2:])
			if !ok {
				return "", errBadJSONString
			}
			i += 6
			switch {
			case r >= 0xd800 && r < 0xdc00: // high surrogate: a pair if a low one follows
				if len(s) >= i+6 && s[i] == '\\' && s[i+1] == 'u' {
					if lo, ok := hex4(s[i+2:]); ok && lo >= 0xdc00 && lo < 0xe000 {
						out = utf8.AppendRune(out, 0x10000+(r-0xd800)<<10+(lo-0xdc00))
						i += 6
						continue
					}
				}
				out = utf8.AppendRune(out, utf8.RuneError)
			case r >= 0xdc80 && r <= 0xdcff: // a byte that was not valid UTF-8
				out = append(out, byte(r))
			case r >= 0xdc00 && r < 0xe000:
				out = utf8.AppendRune(out, utf8.RuneError)
			default:
				out = utf8.AppendRune(out, r)
			}
			continue
		default:
			return "", errBadJSONString
		}
		i += 2
	}
	return string(out), nil
}

// hex4 reads the 4 hex digits \u is followed by.
func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

var errBadWireMeta = errors.New(`metadata "m" is not an object of strings`)

// decodeWireMeta reads the metadata object raw (valid JSON: encoding/json
// checked it) as json.Unmarshal into a map[string]string does — null is a
// nil map, a null value is "", a later duplicate key wins — with keys and
// values unquoted by unquoteWire.
func decodeWireMeta(raw []byte) (map[string]string, error) {
	i := skipSpace(raw, 0)
	if i == len(raw) || string(raw[i:]) == "null" {
		return nil, nil
	}
	if raw[i] != '{' {
		return nil, errBadWireMeta
	}
	m := map[string]string{}
	for i = skipSpace(raw, i+1); i < len(raw) && raw[i] != '}'; {
		end := stringEnd(raw, i)
		if end < 0 {
			return nil, errBadWireMeta
		}
		k, err := unquoteWire(raw[i:end])
		if err != nil {
			return nil, err
		}
		if i = skipSpace(raw, end); i == len(raw) || raw[i] != ':' {
			return nil, errBadWireMeta
		}
		i = skipSpace(raw, i+1)
		var v string
		switch {
		case i < len(raw) && raw[i] == '"':
			end = stringEnd(raw, i)
			if end < 0 {
				return nil, errBadWireMeta
			}
			if v, err = unquoteWire(raw[i:end]); err != nil {
				return nil, err
			}
			i = end
		case len(raw) >= i+4 && string(raw[i:i+4]) == "null":
			i += 4
		default:
			return nil, errBadWireMeta
		}
		m[k] = v
		if i = skipSpace(raw, i); i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	if i == len(raw) {
		return nil, errBadWireMeta
	}
	return m, nil
}

// stringEnd returns the index just past the JSON string that starts at
// raw[i], or -1.
func stringEnd(raw []byte, i int) int {
	if i >= len(raw) || raw[i] != '"' {
		return -1
	}
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}
