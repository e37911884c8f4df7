package cache

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

type user struct {
	ID   int      `json:"id"`
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

func TestRedisCodecs(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		t.Run("json struct", func(t *testing.T) {
			r := mustRedis[user](t, tg)
			u := user{ID: 7, Name: "Ada", Tags: []string{"x"}}
			require.NoError(t, r.Set(bg, "u7", u, time.Minute))
			got, ok, err := r.Get(bg, "u7")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, u, got)
			raw, err := tg.Client.Get(bg, r.redisKey("u7")).Bytes()
			require.NoError(t, err)
			h, payload, err := parseHeader(raw)
			require.NoError(t, err)
			assert.Equal(t, `{"id":7,"name":"Ada","tags":["x"]}`, string(payload), "a header, then the JSON")
			assert.InDelta(t, time.Now().Add(time.Minute).UnixMilli(), h.deadline, float64(time.Second/time.Millisecond), "the deadline")
		})
		t.Run("raw bytes", func(t *testing.T) {
			r := mustRedis[[]byte](t, tg)
			b := []byte{0, 1, 2, 255}
			require.NoError(t, r.Set(bg, "b", b, 0))
			got, ok, err := r.Get(bg, "b")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, b, got)
			raw, err := tg.Client.Get(bg, r.redisKey("b")).Bytes()
			require.NoError(t, err)
			assert.Equal(t, append([]byte{0x88, 0}, b...), raw, "a header without deadline, then the bytes as they are, not base64 JSON")
		})
		t.Run("custom codec", func(t *testing.T) {
			r := mustRedis[string](t, tg, WithCodec(upperCodec{}))
			require.NoError(t, r.Set(bg, "k", "hello", 0))
			raw, _ := tg.Client.Get(bg, r.redisKey("k")).Result()
			assert.Equal(t, "\x88\x00HELLO", raw)
			got, _, err := r.Get(bg, "k")
			require.NoError(t, err)
			assert.Equal(t, "hello", got)
		})
	})
}

// upperCodec stores strings upper-cased, to see a codec at work.
type upperCodec struct{}

func (upperCodec) Marshal(v any) ([]byte, error) { return []byte(strings.ToUpper(v.(string))), nil }
func (upperCodec) Unmarshal(d []byte, v any) error {
	*(v.(*string)) = strings.ToLower(string(d))
	return nil
}

func TestRedisMillisecondTTL(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r := mustRedis[string](t, tg)
		require.NoError(t, r.Set(bg, "k", "v", 1500*time.Millisecond))
		pttl, err := tg.Client.PTTL(bg, r.redisKey("k")).Result()
		require.NoError(t, err)
		assert.LessOrEqual(t, pttl, 1500*time.Millisecond)
		assert.Greater(t, pttl, 1400*time.Millisecond, "milliseconds kept, not rounded to seconds")
		if tg.Mini != nil {
			require.NoError(t, r.Set(bg, "sub", "v", 1500*time.Microsecond))
			pttl, _ = tg.Client.PTTL(bg, r.redisKey("sub")).Result()
			assert.Equal(t, 2*time.Millisecond, pttl, "a sub-millisecond TTL rounds up")

			tg.Advance(1499 * time.Millisecond)
			_, ok, _ := r.Get(bg, "k")
			assert.True(t, ok)
			tg.Advance(time.Millisecond)
			_, ok, _ = r.Get(bg, "k")
			assert.False(t, ok, "expired at exactly 1500ms")
		}
	})
}

func TestRedisCorruptValue(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		r := mustRedis[user](t, tg)
		require.NoError(t, tg.Client.Set(bg, r.redisKey("foreign"), "not ours", 0).Err())
		require.NoError(t, tg.Client.Set(bg, r.redisKey("badjson"), "\x80{nope", 0).Err())
		_, _, err := r.Get(bg, "foreign")
		assert.ErrorIs(t, err, ErrCorrupt)
		_, _, err = r.GetEntry(bg, "foreign")
		assert.ErrorIs(t, err, ErrCorrupt)
		_, _, err = r.Get(bg, "badjson")
		var se *json.SyntaxError
		assert.ErrorAs(t, err, &se)

		// Aside serves around it, and reports it.
		var reported []error
		a, err := NewAside(r, func(_ context.Context, key string) (user, error) {
			return user{Name: key}, nil
		}, WithOnError(func(_ string, err error) { reported = append(reported, err) }))
		require.NoError(t, err)
		defer a.Close()
		u, err := a.Get(bg, "badjson")
		require.NoError(t, err)
		assert.Equal(t, "badjson", u.Name)
		require.NotEmpty(t, reported)
		assert.ErrorAs(t, reported[0], &se)
		assert.Equal(t, uint64(1), a.Stats().CacheErrors)
		// The load overwrote the bad value.
		u, ok, err := r.Get(bg, "badjson")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "badjson", u.Name)
	})
}

// TestRedisDown: Redis cut mid-run fails cache calls fast, Aside serves
// every read from the loader meanwhile, and all recovers after.
func TestRedisDown(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		client, faults := tg.NewClient()
		r, err := NewRedis[string](client, WithPrefix(tg.Prefix), WithTimeout(50*time.Millisecond))
		require.NoError(t, err)
		src := newSource()
		src.put("k", "v")
		a := newAside(t, r, src.load)
		v, err := a.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		v, _ = a.Get(bg, "k")
		assert.Equal(t, "v", v)
		require.Equal(t, int64(1), src.calls.Load())

		for _, fault := range []struct {
			name  string
			apply func()
		}{{"cut", faults.Cut}, {"hang", faults.Hang}} {
			fault.apply()
			start := time.Now()
			for range 3 {
				v, err := a.Get(bg, "k")
				require.NoError(t, err, fault.name)
				assert.Equal(t, "v", v)
			}
			assert.Less(t, time.Since(start), time.Second, "%s: each cache call gave up within its timeout", fault.name)
			_, _, err := r.Get(bg, "k")
			assert.Error(t, err, fault.name)
			faults.Heal()
		}
		// Each read's Get and its store fail. A load whose Get went
		// unanswered (a hung Redis; a cut one too when go-redis's redials
		// outlast the timeout) reads no fence, and stores only where the
		// key holds nothing; one whose Get failed fast tries the fence
		// read too, which fails too. A hung Redis's reads are answered
		// before their (failing) stores end.
		require.Eventually(t, func() bool { return a.Stats().CacheErrors >= 12 }, waitFor, tick,
			"3 reads × (Get + Set) × 2 faults")
		assert.LessOrEqual(t, a.Stats().CacheErrors, uint64(15), "at most the cut's 3 fence reads more")
		callsDuringFaults := src.calls.Load()
		assert.Equal(t, int64(7), callsDuringFaults)

		require.Eventually(t, func() bool { _, _, err := r.Get(bg, "k"); return err == nil }, waitFor, 10*time.Millisecond)
		v, err = a.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		v, err = a.Get(bg, "k")
		require.NoError(t, err)
		assert.Equal(t, "v", v)
		assert.LessOrEqual(t, src.calls.Load(), callsDuringFaults+1, "cached again")
	})
}

func TestRedisConfig(t *testing.T) {
	mr := redistest.New(t, redistest.Mini)
	for name, opts := range map[string][]RedisOption{
		"empty prefix": {WithPrefix("")},
		"nil codec":    {WithCodec(nil)},
		"nil option":   {nil},
		"zero timeout": {WithTimeout(0)},
		"brace prefix": {WithPrefix("a{b")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewRedis[string](mr.Client, opts...)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	_, err := NewRedis[string](nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	var nilClient *redis.Client
	_, err = NewRedis[string](nilClient)
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewRedis[string](mr.Client, WithoutTimeout())
	assert.NoError(t, err)
}

func TestWholeMillis(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		0: 0, 1: time.Millisecond, time.Millisecond: time.Millisecond,
		1500 * time.Microsecond: 2 * time.Millisecond, time.Hour: time.Hour,
	} {
		assert.Equal(t, want, wholeMillis(in), in)
	}
}

func TestRedisFormatRoundTrip(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	r := &Redis[string]{codec: rawCodec{}, now: func() time.Time { return now }}
	for _, e := range []Entry[string]{
		{Value: "x"}, {Value: ""}, {NotFound: true}, {Value: "y", LoadTime: 1234 * time.Microsecond},
		{NotFound: true, LoadTime: time.Second}, {Value: "z", TTL: time.Minute},
		{NotFound: true, LoadTime: time.Millisecond, TTL: 1500 * time.Microsecond},
	} {
		data, err := r.encode(&e)
		require.NoError(t, err)
		got, h, err := r.decode(data)
		require.NoError(t, err)
		assert.False(t, h.legacy)
		got.TTL = h.ttlLeft(now)
		want := e
		want.TTL = wholeMillis(e.TTL)
		assert.Equal(t, want, got)
	}
	for _, bad := range [][]byte{
		nil, {}, {0x00}, {0x84}, {0x82}, {0x82, 0xff}, {0x81, 'x'}, {0x88}, {0x88, 0xff},
		{0x89, 0, 'x'}, {0x90, 0}, {0xc8, 0}, {0x8c, 0},
		{0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // deadline overflows
	} {
		_, _, err := r.decode(bad)
		assert.True(t, errors.Is(err, ErrCorrupt), "%x", bad)
	}
}

// The TTL left is read from the deadline on the reader's clock: a reader
// ahead of the writer sees less left, down to a millisecond while Redis
// still holds the entry (never 0, which would mean no expiry).
func TestRedisDeadlineSkew(t *testing.T) {
	h := header{deadline: 10_000}
	assert.Equal(t, 4*time.Second, h.ttlLeft(time.UnixMilli(6_000)))
	assert.Equal(t, time.Millisecond, h.ttlLeft(time.UnixMilli(10_000)))
	assert.Equal(t, time.Millisecond, h.ttlLeft(time.UnixMilli(99_000)))
	assert.Equal(t, time.Duration(0), header{}.ttlLeft(time.UnixMilli(99_000)), "no deadline: no expiry")
}
