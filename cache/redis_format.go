package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrCorrupt wraps the error for a value in Redis that is not in this
// package's format (written by something else, or by a newer version).
var ErrCorrupt = errors.New("cache: corrupt value")

// The stored format: one header byte, 0b100000nl, then when l is set the
// entry's LoadTime in microseconds as a uvarint, then unless n (a
// negative entry) is set the value as the Codec encodes it. An
// invalidation's tombstone (see redis_fence.go) is the header 0b10000100
// and random bytes: a miss.
const (
	hdrBase      = 0x80
	hdrNotFound  = 0x01
	hdrLoadTime  = 0x02
	hdrTombstone = 0x04
	hdrMask      = 0xfc
)

func (r *Redis[V]) encode(e *Entry[V]) ([]byte, error) {
	var payload []byte
	if !e.NotFound {
		var err error
		if payload, err = r.codec.Marshal(e.Value); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, 1, 1+binary.MaxVarintLen64+len(payload))
	buf[0] = hdrBase
	if e.NotFound {
		buf[0] |= hdrNotFound
	}
	if us := e.LoadTime / time.Microsecond; us > 0 {
		buf[0] |= hdrLoadTime
		buf = binary.AppendUvarint(buf, uint64(us))
	}
	return append(buf, payload...), nil
}

func (r *Redis[V]) decode(data []byte) (Entry[V], error) {
	var e Entry[V]
	if len(data) == 0 || data[0]&hdrMask != hdrBase {
		return e, fmt.Errorf("%w: unknown header", ErrCorrupt)
	}
	hdr := data[0]
	data = data[1:]
	if hdr&hdrLoadTime != 0 {
		us, n := binary.Uvarint(data)
		if n <= 0 {
			return e, fmt.Errorf("%w: bad load time", ErrCorrupt)
		}
		e.LoadTime = time.Duration(us) * time.Microsecond
		data = data[n:]
	}
	if hdr&hdrNotFound != 0 {
		if len(data) != 0 {
			return e, fmt.Errorf("%w: negative entry with a value", ErrCorrupt)
		}
		e.NotFound = true
		return e, nil
	}
	if err := r.codec.Unmarshal(data, &e.Value); err != nil {
		return Entry[V]{}, fmt.Errorf("decoding: %w", err)
	}
	return e, nil
}
