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

// The stored format: one header byte, 0b1000d0nl, then when l is set the
// entry's LoadTime in microseconds as a uvarint, then when d is set its
// expiry deadline (below), then unless n (a negative entry) is set the
// value as the Codec encodes it. An invalidation's tombstone (see
// redis_fence.go) is the header 0b10000100 and random bytes: a miss.
//
// The deadline is the Unix time in milliseconds, on the writer's clock,
// at which the entry's TTL ends (0: no expiry). It is there so that a
// read is one plain GET: GetEntry reports the TTL left without asking
// Redis for it (PTTL, which took a Lua script to read with the value).
// Redis still expires the key by the TTL given to SET PX; the deadline
// only tells readers how long the entry has left, for early refresh and
// for Tiered's local copies. A reader whose clock runs ahead of the
// writer's sees less time left (down to 1ms while Redis still holds the
// key), one behind sees more: a skew of s shifts an early refresh by s.
//
// Values written before the deadline existed (header 0b100000nl, no d
// bit: every version of this package before the one that added it) are read as they always were: hits,
// with the TTL left asked of Redis by a PTTL after the GET (see
// Redis.legacyTTL). Such values are gone one TTL after a fleet stops
// writing them. A process of that older version reads a value written
// with a deadline as corrupt: its Get reports an error and its Aside
// serves the read from the loader and stores the old format over it, so
// a mixed-version fleet never serves a wrong value, but the older
// processes load more until they are upgraded.
const (
	hdrBase      = 0x80
	hdrNotFound  = 0x01
	hdrLoadTime  = 0x02
	hdrTombstone = 0x04
	hdrDeadline  = 0x08
	hdrMask      = 0xf4 // bits that must read as hdrBase: unused ones and the tombstone's
)

// header is a stored entry's metadata as the header records it.
type header struct {
	notFound bool
	loadTime time.Duration
	// deadline is the expiry in Unix milliseconds on the writer's clock,
	// 0 when the entry has none.
	deadline int64
	// legacy: the value has no deadline field (written before it
	// existed), so the TTL left must be asked of Redis.
	legacy bool
}

// appendHeader appends h's encoding (never legacy) to buf.
func appendHeader(buf []byte, h header) []byte {
	b := byte(hdrBase | hdrDeadline)
	if h.notFound {
		b |= hdrNotFound
	}
	us := h.loadTime / time.Microsecond
	if us > 0 {
		b |= hdrLoadTime
	}
	buf = append(buf, b)
	if us > 0 {
		buf = binary.AppendUvarint(buf, uint64(us))
	}
	return binary.AppendUvarint(buf, uint64(max(h.deadline, 0)))
}

// parseHeader splits stored bytes into their header and the encoded
// value. Bytes in no format this package writes, a tombstone included,
// are an error wrapping ErrCorrupt.
func parseHeader(data []byte) (header, []byte, error) {
	var h header
	if len(data) == 0 || data[0]&hdrMask != hdrBase {
		return h, nil, fmt.Errorf("%w: unknown header", ErrCorrupt)
	}
	b := data[0]
	data = data[1:]
	h.notFound = b&hdrNotFound != 0
	if b&hdrLoadTime != 0 {
		us, n := binary.Uvarint(data)
		if n <= 0 || us > uint64(maxLoadTime/time.Microsecond) {
			return h, nil, fmt.Errorf("%w: bad load time", ErrCorrupt)
		}
		h.loadTime = time.Duration(us) * time.Microsecond
		data = data[n:]
	}
	if b&hdrDeadline == 0 {
		h.legacy = true
	} else {
		ms, n := binary.Uvarint(data)
		if n <= 0 || ms > maxDeadline {
			return h, nil, fmt.Errorf("%w: bad deadline", ErrCorrupt)
		}
		h.deadline = int64(ms)
		data = data[n:]
	}
	if h.notFound && len(data) != 0 {
		return h, nil, fmt.Errorf("%w: negative entry with a value", ErrCorrupt)
	}
	return h, data, nil
}

// The largest load time and deadline a header may hold: beyond them a
// Duration or a time.Time in milliseconds would overflow.
const (
	maxLoadTime = time.Duration(1<<63 - 1)
	maxDeadline = (1<<63 - 1) / uint64(time.Millisecond)
)

// ttlLeft is the TTL a header's deadline leaves at now: 0 for no expiry,
// at least a millisecond for an entry Redis still holds (a reader whose
// clock is ahead of the writer's may see its deadline passed).
func (h header) ttlLeft(now time.Time) time.Duration {
	if h.deadline == 0 {
		return 0
	}
	return max(time.UnixMilli(h.deadline).Sub(now), time.Millisecond)
}

// encode returns e as stored, its deadline e.TTL from r's clock.
func (r *Redis[V]) encode(e *Entry[V]) ([]byte, error) {
	var payload []byte
	if !e.NotFound {
		var err error
		if payload, err = r.codec.Marshal(e.Value); err != nil {
			return nil, err
		}
	}
	h := header{notFound: e.NotFound, loadTime: e.LoadTime}
	if e.TTL > 0 {
		h.deadline = r.now().UnixMilli() + wholeMillis(e.TTL).Milliseconds()
	}
	buf := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(payload))
	return append(appendHeader(buf, h), payload...), nil
}

// decode returns the entry stored as data without its TTL (Get needs
// none; GetEntry takes it from the header, see Redis.ttlLeft).
func (r *Redis[V]) decode(data []byte) (Entry[V], header, error) {
	h, payload, err := parseHeader(data)
	if err != nil {
		return Entry[V]{}, h, err
	}
	e := Entry[V]{NotFound: h.notFound, LoadTime: h.loadTime}
	if !h.notFound {
		if err := r.codec.Unmarshal(payload, &e.Value); err != nil {
			return Entry[V]{}, h, fmt.Errorf("decoding: %w", err)
		}
	}
	return e, h, nil
}
