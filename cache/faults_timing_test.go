package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/redistest"
)

// On a loaded machine (CI tests packages in parallel on two cores, under
// -race) the runtime wakes every goroutine late, the ones that end a
// bounded call included: the bound's timer fires late, then the caller
// waiting for it is woken late. The fault suite measures that delay while
// each timed call runs and allows for it, so that its bounds stay tight
// on a quiet machine and hold on a busy one, while a call that ignores
// its bound (it waits for the 1s client timeouts or for the fault to end)
// still fails.

// wakeHops is how many wake-ups a bounded call's return may wait for in a
// row beyond the stalls already counted: the bound's timer, then the
// goroutine waiting for the call.
const wakeHops = 2

// loadAllowance is what a timed call that ran from start to end may take
// beyond its bound and redistest.Slack on this machine at this moment:
// the time the process stood still meanwhile, plus wakeHops times the
// worst wake-up delay the probe saw (a starved process is not only
// stopped now and then: while it runs, each hand-off of the call's
// return waits its turn too). Both are about 0 on a quiet machine.
func loadAllowance(p *redistest.WakeProbe, start, end time.Time) (allowance, stalled, wake time.Duration) {
	wake, _ = p.Stop()
	stalled = redistest.Stalled(start, end)
	return stalled + wakeHops*wake, stalled, wake
}

// within runs call and asserts that it returned within bound plus
// redistest.Slack plus the machine's measured lateness (loadAllowance).
func within(t *testing.T, bound time.Duration, call func()) {
	t.Helper()
	p := redistest.StartWakeProbe()
	start := time.Now()
	call()
	end := time.Now()
	allowance, stalled, wake := loadAllowance(p, start, end)
	elapsed := end.Sub(start)
	require.LessOrEqual(t, elapsed, bound+redistest.Slack+allowance,
		"took %v, bound %v + %v + lateness %v (stalled %v + worst wake-up delay %v × %d)",
		elapsed, bound, redistest.Slack, allowance, stalled, wake, wakeHops)
}
