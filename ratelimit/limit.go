package ratelimit

import (
	"fmt"
	"time"
)

// Algorithm selects how a limiter counts requests.
type Algorithm int

// The algorithms. The zero Algorithm is none of them, so a forgotten field is
// an error rather than a silent default.
const (
	// TokenBucket starts full with Burst tokens and refills Rate per Period
	// continuously; a request takes n tokens. Allows bursts, then a steady rate.
	TokenBucket Algorithm = iota + 1
	// LeakyBucket shapes traffic: admitted requests leave evenly spaced,
	// Period/Rate apart, from a queue that holds Burst. Decision.Delay says
	// how long to wait before proceeding.
	LeakyBucket
	// FixedWindow admits at most Rate per window aligned to multiples of
	// Period. Cheapest; allows up to 2×Rate across a window boundary.
	FixedWindow
	// SlidingWindowLog admits at most Rate in any interval of length Period,
	// exactly, by remembering every admitted request (memory grows with Rate).
	SlidingWindowLog
	// SlidingWindowCounter weighs the previous fixed window's count by how
	// much of it still overlaps the sliding window: near-exact, O(1) memory.
	SlidingWindowCounter
)

var algorithmNames = map[Algorithm]string{
	TokenBucket:          "token-bucket",
	LeakyBucket:          "leaky-bucket",
	FixedWindow:          "fixed-window",
	SlidingWindowLog:     "sliding-window-log",
	SlidingWindowCounter: "sliding-window-counter",
}

// String returns the algorithm's name, e.g. "token-bucket".
func (a Algorithm) String() string {
	if s, ok := algorithmNames[a]; ok {
		return s
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// Limit is Rate requests per Period. Burst is the bucket size of TokenBucket
// and the queue size of LeakyBucket; 0 means Rate. The window algorithms have
// no burst of their own: Burst must be 0 or equal to Rate for them.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerSecond is rate requests per second.
func PerSecond(rate int) Limit { return Limit{Rate: rate, Period: time.Second} }

// PerMinute is rate requests per minute.
func PerMinute(rate int) Limit { return Limit{Rate: rate, Period: time.Minute} }

// PerHour is rate requests per hour.
func PerHour(rate int) Limit { return Limit{Rate: rate, Period: time.Hour} }

// String formats the limit as "10/1s", "100/1m" or "10/1s burst 50".
func (l Limit) String() string {
	if l.Burst == 0 || l.Burst == l.Rate {
		return fmt.Sprintf("%d/%s", l.Rate, periodString(l.Period))
	}
	return fmt.Sprintf("%d/%s burst %d", l.Rate, periodString(l.Period), l.Burst)
}

// periodString is d in its largest whole unit ("1m", not "1m0s").
func periodString(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if d != 0 && d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.name)
		}
	}
	return d.String()
}

// maxExact bounds every integer the algorithms compute, so the Redis scripts
// (Lua numbers are doubles) stay exact: 2^53.
const maxExact = 1 << 53

// spec is a validated Limit in the integer units the algorithms work in:
// time in microseconds, and for the bucket algorithms "ticks" of 1/Rate µs,
// in which one request costs periodUS ticks and the bucket holds
// burst·periodUS of them. Integer ticks make every decision exact.
type spec struct {
	alg      Algorithm
	limit    Limit // as given, with Burst filled in
	rate     int64
	burst    int64
	periodUS int64
	drainUS  int64 // buckets: µs for a full bucket to drain, ceil(burst·periodUS/rate)
}

func newSpec(alg Algorithm, l Limit) (spec, error) {
	if _, ok := algorithmNames[alg]; !ok {
		return spec{}, fmt.Errorf("%w: unknown algorithm %d", ErrInvalidConfig, int(alg))
	}
	if l.Rate <= 0 {
		return spec{}, fmt.Errorf("%w: Rate must be positive, got %d", ErrInvalidConfig, l.Rate)
	}
	if l.Period <= 0 {
		return spec{}, fmt.Errorf("%w: Period must be positive, got %s", ErrInvalidConfig, l.Period)
	}
	if l.Period%time.Microsecond != 0 {
		return spec{}, fmt.Errorf("%w: Period must be a whole number of microseconds, got %s", ErrInvalidConfig, l.Period)
	}
	if l.Burst < 0 {
		return spec{}, fmt.Errorf("%w: Burst must not be negative, got %d", ErrInvalidConfig, l.Burst)
	}
	if l.Burst == 0 {
		l.Burst = l.Rate
	}
	if !alg.bucket() && l.Burst != l.Rate {
		return spec{}, fmt.Errorf("%w: Burst applies to TokenBucket and LeakyBucket only; %s admits Rate per window (got Burst %d, Rate %d)", ErrInvalidConfig, alg, l.Burst, l.Rate)
	}
	s := spec{alg: alg, limit: l, rate: int64(l.Rate), burst: int64(l.Burst), periodUS: l.Period.Microseconds()}
	if s.size() > maxExact/s.periodUS || s.rate > maxExact/s.periodUS {
		return spec{}, fmt.Errorf("%w: limit %s too large: max(Rate, Burst) × Period in µs must stay below 2^53", ErrInvalidConfig, l)
	}
	s.drainUS = ceilDiv(s.burst*s.periodUS, s.rate)
	return s, nil
}

func (a Algorithm) bucket() bool { return a == TokenBucket || a == LeakyBucket }

// size is the most one key can ever admit at once: n above it is never allowed.
func (s *spec) size() int64 {
	if s.alg.bucket() {
		return s.burst
	}
	return s.rate
}

// checkN validates a request for n.
func (s *spec) checkN(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: n must be at least 1, got %d", ErrInvalidRequest, n)
	}
	if int64(n) > s.size() {
		return fmt.Errorf("%w: n=%d, limit %s admits at most %d at once", ErrExceedsLimit, n, s.limit, s.size())
	}
	return nil
}

// ticksPerUS is the unit of the time values an algorithm reports: ticks of
// 1/Rate µs for the buckets, microseconds for the windows.
func (s *spec) ticksPerUS() int64 {
	if s.alg.bucket() {
		return s.rate
	}
	return 1
}

// duration converts v units (see ticksPerUS) to a Duration, rounded up to
// whole microseconds, the resolution both backends decide in: waiting that
// long is always enough, and a microsecond less is not.
func (s *spec) duration(v int64) time.Duration {
	if v <= 0 {
		return 0
	}
	return time.Duration(ceilDiv(v, s.ticksPerUS())) * time.Microsecond
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// floorDiv rounds towards minus infinity (timestamps before 1970 included).
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
