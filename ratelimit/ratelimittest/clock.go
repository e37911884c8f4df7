package ratelimittest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/ratelimit"
)

// run is one case's view of the backend: its limiters and a clock with a
// time zero the case chooses.
type run struct {
	t     *testing.T
	b     Backend
	start time.Time
}

// needClock skips the case when the backend's clock cannot be moved.
func needClock(t *testing.T, b Backend) {
	t.Helper()
	if b.Advance == nil {
		t.Skip("ratelimittest: this case moves time, and the backend gave no Backend.Advance (its limiters decide by a clock nobody can move)")
	}
}

// newRun returns a (sub)test's run. On a backend without a clock to move,
// advance and align do nothing and at must not be used.
func newRun(t *testing.T, b Backend) *run {
	r := &run{t: t, b: b}
	if b.Now != nil {
		r.start = b.Now()
	}
	return r
}

func (r *run) limiter(alg ratelimit.Algorithm, l ratelimit.Limit) ratelimit.Limiter {
	r.t.Helper()
	lim, err := r.b.NewLimiter(alg, l)
	require.NoError(r.t, err, "NewLimiter(%s, %+v)", alg, l)
	return lim
}

func (r *run) advance(d time.Duration) {
	if r.b.Advance != nil {
		r.b.Advance(d)
	}
}

// align moves the clock forward to the next multiple of p since the Unix
// epoch and makes that time zero, so windows start at offset 0.
func (r *run) align(p time.Duration) {
	if r.b.Advance == nil {
		return
	}
	now := r.b.Now()
	if rem := time.Duration(now.UnixNano() % int64(p)); rem != 0 {
		r.b.Advance(p - rem)
	}
	r.start = r.b.Now()
}

// at moves the clock to time zero + off; off must not go backwards.
func (r *run) at(off time.Duration) {
	r.t.Helper()
	d := r.start.Add(off).Sub(r.b.Now())
	require.GreaterOrEqual(r.t, d, time.Duration(0), "ratelimittest: a case moves the clock backwards to %s", off)
	if d > 0 {
		r.b.Advance(d)
	}
}

// eachAlgorithm runs fn as a subtest per algorithm of f.
func eachAlgorithm(t *testing.T, f Features, fn func(t *testing.T, alg ratelimit.Algorithm)) {
	for _, alg := range f.algorithms() {
		t.Run(alg.String(), func(t *testing.T) { fn(t, alg) })
	}
}

// limitFor gives each algorithm a limit small enough that random traffic
// hits it often.
func limitFor(alg ratelimit.Algorithm) ratelimit.Limit {
	if alg == ratelimit.TokenBucket || alg == ratelimit.LeakyBucket {
		return ratelimit.Limit{Rate: 7, Period: 700 * ms, Burst: 5}
	}
	return ratelimit.Limit{Rate: 7, Period: 700 * ms}
}

const ms = time.Millisecond
