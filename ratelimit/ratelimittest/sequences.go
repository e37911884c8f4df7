package ratelimittest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/ratelimit"
)

// step is one request at a time offset and the exact decision expected.
type step struct {
	at        time.Duration
	n         int
	times     int // repeat the same request; 0 means 1
	allowed   bool
	remaining int // of the last repetition
	retry     time.Duration
	delay     time.Duration
}

// sequence is one algorithm's exact behaviour, request by request.
type sequence struct {
	name  string
	alg   ratelimit.Algorithm
	limit ratelimit.Limit
	steps []step
}

// sequences must hold on every backend to the microsecond.
var sequences = []sequence{
	{
		name: "fixed window: 11th at 0.999s denied, allowed at 1.000s", alg: ratelimit.FixedWindow, limit: ratelimit.PerSecond(10),
		steps: []step{
			{at: 0, n: 1, times: 10, allowed: true, remaining: 0},
			{at: 999 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
			{at: 1000 * ms, n: 1, allowed: true, remaining: 9},
			// the boundary spike the algorithm allows: 9 more at 1.999s, 10 at 2.000s
			{at: 1999 * ms, n: 9, allowed: true, remaining: 0},
			{at: 2000 * ms, n: 10, allowed: true, remaining: 0},
		},
	},
	{
		name: "token bucket: burst of 20, then 10/s", alg: ratelimit.TokenBucket, limit: ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 20},
		steps: []step{
			{at: 0, n: 1, times: 20, allowed: true, remaining: 0},
			{at: 0, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 99 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
			{at: 100 * ms, n: 1, allowed: true, remaining: 0},
			{at: 1100 * ms, n: 1, allowed: true, remaining: 9},
			{at: 1100 * ms, n: 10, allowed: false, remaining: 9, retry: 100 * ms},
			{at: 1100 * ms, n: 9, allowed: true, remaining: 0},
			{at: 10 * time.Second, n: 20, allowed: true, remaining: 0},
		},
	},
	{
		name: "leaky bucket: queue of 3 leaves 100ms apart", alg: ratelimit.LeakyBucket, limit: ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 3},
		steps: []step{
			{at: 0, n: 1, allowed: true, remaining: 2, delay: 0},
			{at: 0, n: 1, allowed: true, remaining: 1, delay: 100 * ms},
			{at: 0, n: 1, allowed: true, remaining: 0, delay: 200 * ms},
			{at: 0, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 100 * ms, n: 1, allowed: true, remaining: 0, delay: 200 * ms},
			{at: 150 * ms, n: 1, allowed: false, remaining: 0, retry: 50 * ms},
			{at: 400 * ms, n: 2, allowed: true, remaining: 1, delay: 100 * ms}, // queue drained at 400ms
		},
	},
	{
		name: "sliding log: a request stops counting exactly Period after it", alg: ratelimit.SlidingWindowLog, limit: ratelimit.PerSecond(3),
		steps: []step{
			{at: 0, n: 1, allowed: true, remaining: 2},
			{at: 500 * ms, n: 2, allowed: true, remaining: 0},
			{at: 600 * ms, n: 1, allowed: false, remaining: 0, retry: 400 * ms},
			{at: 999_999 * time.Microsecond, n: 1, allowed: false, remaining: 0, retry: time.Microsecond},
			{at: 1000 * ms, n: 1, allowed: true, remaining: 0},
			{at: 1000 * ms, n: 2, allowed: false, remaining: 0, retry: 500 * ms},
			{at: 1500 * ms, n: 2, allowed: true, remaining: 0},
			// no boundary spike: 3 more are refused until 2.0s
			{at: 1999 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
		},
	},
	{
		name: "sliding counter: previous window weighted exactly", alg: ratelimit.SlidingWindowCounter, limit: ratelimit.PerSecond(10),
		steps: []step{
			{at: 0, n: 1, times: 10, allowed: true, remaining: 0},
			{at: 1000 * ms, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 1099 * ms, n: 1, allowed: false, remaining: 0, retry: ms},
			{at: 1100 * ms, n: 1, allowed: true, remaining: 0},
			{at: 1100 * ms, n: 1, allowed: false, remaining: 0, retry: 100 * ms},
			{at: 1500 * ms, n: 1, allowed: true, remaining: 3},
			// cur=2 of 10 in [1s,2s): at 2.0s the estimate is 2, then it decays:
			// 2·(1-0.5)+8+1 = 10 first holds at 2.5s
			{at: 2000 * ms, n: 8, allowed: true, remaining: 0},
			{at: 2000 * ms, n: 1, allowed: false, remaining: 0, retry: 500 * ms},
		},
	},
}

// sequenceCases turns each sequence into a named case.
func sequenceCases() []Case {
	cases := make([]Case, len(sequences))
	for i, sq := range sequences {
		cases[i] = Case{Name: "exact sequence: " + sq.name, Run: sq.run}
	}
	return cases
}

func (sq sequence) run(t *testing.T, f Features, b Backend) {
	if !f.has(sq.alg) {
		t.Skipf("ratelimittest: the backend does not implement %s (Features.Algorithms)", sq.alg)
	}
	needClock(t, b)
	r := newRun(t, b)
	lim := r.limiter(sq.alg, sq.limit)
	r.align(time.Second)
	key := "user:" + sq.name
	for i, st := range sq.steps {
		r.at(st.at)
		var d ratelimit.Decision
		for rep := 0; rep < max(st.times, 1); rep++ {
			var err error
			d, err = lim.AllowN(context.Background(), key, st.n)
			require.NoError(t, err)
			require.Equal(t, st.allowed, d.Allowed, "step %d (at %s, n=%d, repetition %d)", i, st.at, st.n, rep)
		}
		assert.Equal(t, st.remaining, d.Remaining, "step %d remaining", i)
		assert.Equal(t, st.retry, d.RetryAfter, "step %d retry-after", i)
		assert.Equal(t, st.delay, d.Delay, "step %d delay", i)
		assert.Equal(t, sq.limit.Rate, d.Limit.Rate, "step %d: Decision.Limit", i)
	}
}
