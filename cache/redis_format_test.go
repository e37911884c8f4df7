package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// legacyValue is a value as versions before the deadline field stored it:
// the header 0b100000nl, the load time when l is set, the value.
func legacyValue(notFound bool, loadTime time.Duration, value string) []byte {
	b := []byte{hdrBase}
	if notFound {
		b[0] |= hdrNotFound
	}
	if loadTime > 0 {
		b[0] |= hdrLoadTime
		b = binary.AppendUvarint(b, uint64(loadTime/time.Microsecond))
	}
	return append(b, value...)
}

// Values in the format older versions wrote are read by this one as they
// were: hits (or negative entries) with their load time and, from a PTTL,
// their TTL left; a fenced store over one (Aside's load) replaces it.
func TestRedisReadsLegacyFormat(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r := mustRedis[string](t, tg, WithPrefix(uniquePrefix(tg)))
		raw := func(key string, data []byte, ttl time.Duration) {
			require.NoError(t, tg.Client.Set(bg, r.redisKey(key), data, ttl).Err())
		}
		raw("timed", legacyValue(false, 1500*time.Microsecond, "old"), time.Minute)
		raw("forever", legacyValue(false, 0, "plain"), 0)
		raw("ghost", legacyValue(true, time.Millisecond, ""), time.Minute)

		v, ok, err := r.Get(bg, "timed")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "old", v)
		e, ok, err := r.GetEntry(bg, "timed")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "old", e.Value)
		assert.Equal(t, 1500*time.Microsecond, e.LoadTime)
		assert.LessOrEqual(t, e.TTL, time.Minute, "the TTL left, from PTTL")
		assert.Greater(t, e.TTL, 50*time.Second, "the TTL left, from PTTL")

		e, ok, err = r.GetEntry(bg, "forever")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, Entry[string]{Value: "plain"}, e, "no expiry: TTL 0")

		_, ok, err = r.Get(bg, "ghost")
		require.NoError(t, err)
		assert.False(t, ok, "a negative entry is a miss to Get")
		e, ok, err = r.GetEntry(bg, "ghost")
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, e.NotFound)
		assert.Greater(t, e.TTL, 50*time.Second)

		e, ok, f, err := r.readFence(bg, "timed")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "old", e.Value)
		assert.Greater(t, e.TTL, 50*time.Second)
		stored, err := r.setFenced(bg, "timed", Entry[string]{Value: "new", TTL: time.Minute}, f)
		require.NoError(t, err)
		assert.True(t, stored, "a load's store replaces a legacy value it read")
		data, err := tg.Client.Get(bg, r.redisKey("timed")).Bytes()
		require.NoError(t, err)
		h, _, err := parseHeader(data)
		require.NoError(t, err)
		assert.False(t, h.legacy, "stored in the current format")

		// An Aside serves a legacy value as a hit, without loading.
		a := newAside(t, r, func(context.Context, string) (string, error) {
			return "", errors.New("loader called on a cached key")
		})
		v, err = a.Get(bg, "forever")
		require.NoError(t, err)
		assert.Equal(t, "plain", v)
		assert.Equal(t, uint64(0), a.Stats().Loads)
	})
}

// Aside's early refresh over Redis works from the deadline in the header,
// on the reader's clock, with one GET per read (no PTTL).
func TestRedisEarlyRefreshFromDeadline(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		clk := newFakeClock()
		r := mustRedis[string](t, tg, WithPrefix(uniquePrefix(tg)))
		r.now = clk.Now
		src := newSource()
		src.put("k", "v1")
		load := func(ctx context.Context, key string) (string, error) {
			clk.Advance(time.Second) // LoadTime = 1s
			return src.load(ctx, key)
		}
		a := newAside(t, r, load, WithTTL(time.Hour), WithJitter(0), WithClock(clk.Now))
		a.rand = func() float64 { return 0.5 } // −ln(0.5) ≈ 0.69: refresh with ≤ 0.69s left

		_, err := a.Get(bg, "k")
		require.NoError(t, err)
		e, ok, err := r.GetEntry(bg, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, time.Hour, e.TTL, "the deadline, on the fake clock")
		src.put("k", "v2")
		clk.Advance(time.Hour - 2*time.Second) // 2s left: not yet
		v, err := a.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v1", v)
		assert.Equal(t, uint64(0), a.Stats().Refreshes)

		clk.Advance(1500 * time.Millisecond) // 0.5s left: due
		v, err = a.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v1", v, "the hit is served at once; the refresh runs behind it")
		require.Eventually(t, func() bool {
			v, ok, _ := r.Get(bg, "k")
			return ok && v == "v2"
		}, waitFor, tick)
		assert.Equal(t, uint64(1), a.Stats().Refreshes)
	})
}

// FuzzParseHeader: no input makes the decoder panic or accept a header
// with bits it does not know, and every header it accepts encodes to
// bytes that parse back to it; every header the encoder writes parses back to
// itself.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x88, 0}, false, int64(0), int64(0))
	f.Add([]byte{0x8b, 0xe8, 0x07, 0x80, 0x01}, true, int64(1000), int64(1_700_000_000_000))
	f.Add(legacyValue(false, time.Second, "v"), false, int64(1), int64(1))
	f.Add([]byte{0x84, 1, 2}, false, int64(-1), int64(-5))
	f.Fuzz(func(t *testing.T, data []byte, notFound bool, loadUS, deadline int64) {
		h, payload, err := parseHeader(data)
		if err == nil {
			require.Equal(t, byte(hdrBase), data[0]&hdrMask)
			if h.notFound {
				require.Empty(t, payload)
			}
			if !h.legacy {
				again, _, err := parseHeader(appendHeader(nil, h))
				require.NoError(t, err)
				require.Equal(t, h, again, "encodes back to itself")
			}
		} else {
			require.ErrorIs(t, err, ErrCorrupt)
		}

		want := header{notFound: notFound, loadTime: max(time.Duration(loadUS), 0) * time.Microsecond, deadline: max(deadline, 0)}
		if want.loadTime/time.Microsecond != time.Duration(max(loadUS, 0)) || uint64(want.deadline) > maxDeadline {
			return // out of range: not something encode writes
		}
		enc := appendHeader(nil, want)
		if !notFound {
			enc = append(enc, "value"...)
		}
		got, rest, err := parseHeader(enc)
		require.NoError(t, err)
		require.Equal(t, want, got)
		if !notFound {
			require.Equal(t, "value", string(rest))
		}
	})
}

// A hit costs Redis one plain GET, whichever way it is read: Get,
// GetEntry, an Aside's Get, and a load's fence read.
func TestRedisReadIsOneGET(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		c, _ := tg.NewClient()
		log := &redistest.CommandLog{}
		c.AddHook(log)
		r, err := NewRedis[string](c, WithPrefix(uniquePrefix(tg)), WithTimeout(time.Second))
		require.NoError(t, err)
		require.NoError(t, r.SetEntry(bg, "k", Entry[string]{Value: "v", LoadTime: time.Millisecond, TTL: time.Hour}))
		a := newAside(t, r, func(context.Context, string) (string, error) {
			return "", errors.New("loader called on a cached key")
		})
		log.Take()
		for name, read := range map[string]func() error{
			"Get":       func() error { _, _, err := r.Get(bg, "k"); return err },
			"GetEntry":  func() error { _, _, err := r.GetEntry(bg, "k"); return err },
			"Aside.Get": func() error { _, err := a.Get(bg, "k"); return err },
			"readFence": func() error { _, _, _, err := r.readFence(bg, "k"); return err },
		} {
			require.NoError(t, read(), name)
			assert.Equal(t, []string{"get"}, log.Take(), name)
		}
	})
}
