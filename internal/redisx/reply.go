package redisx

import (
	"errors"
	"fmt"
)

// ErrBadReply is returned for a reply that is not what the script returns.
var ErrBadReply = errors.New("redisx: malformed reply")

// ParseInt parses a decimal integer, as Lua scripts return numbers
// formatted with %d or %.0f, without allocating.
func ParseInt(s string) (int64, error) {
	neg := len(s) > 0 && s[0] == '-'
	digits := s
	if neg {
		digits = s[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, fmt.Errorf("%w: %q is not an integer", ErrBadReply, s)
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		d := digits[i]
		if d < '0' || d > '9' {
			return 0, fmt.Errorf("%w: %q is not an integer", ErrBadReply, s)
		}
		v = v*10 + int64(d-'0')
	}
	if neg {
		v = -v
	}
	return v, nil
}

// Int64 reads one element of a script's reply as an integer: a Lua number
// arrives as int64, a number formatted in Lua as a string.
func Int64(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		return ParseInt(v)
	}
	return 0, fmt.Errorf("%w: %T is not an integer", ErrBadReply, v)
}
