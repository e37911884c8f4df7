package sagatest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/saga"
)

// lease is the lease every case claims with.
const lease = time.Minute

// at is the time stamp of the entries the cases write: nanoseconds, so a
// log that rounds time stamps fails the round trip.
var at = time.Unix(1_700_000_000, 123456789)

// Cases are the conformance cases TestLog runs, in order.
var Cases = []Case{
	{"claim creates a saga", claimCreates},
	{"entries round trip", entriesRoundTrip},
	{"claim of a running saga is refused", claimRunningRefused},
	{"same id under another saga name is another saga", otherSagaName},
	{"append checks the token", appendChecksToken},
	{"renew checks the token", renewChecksToken},
	{"unknown id", unknownID},
	{"abandoned lists expired leases only", abandonedExpiredOnly},
	{"takeover of an expired lease", takeover},
	{"finish records the status", finishRecordsStatus},
	{"a finished saga refuses writes", finishedRefusesWrites},
	{"claim of a finished saga returns its record", claimFinished},
	{"a finished saga is never abandoned", finishedNotAbandoned},
	{"claim that finishes at once", claimFinishesAtOnce},
	{"abandoned across shards, bounded by max", abandonedBoundedByMax},
	{"racing claims of a new id: one creates", racingClaims},
	{"racing takeovers: one wins", racingTakeovers},
	{"cancelled context", cancelledContext},
	{"finished sagas expire after the retention", retention},
}

func entry(k saga.EntryKind, step int, data string) saga.Entry {
	e := saga.Entry{Kind: k, Step: step, Data: []byte(data), At: at}
	if step >= 0 {
		e.StepName = fmt.Sprint("step", step)
	}
	return e
}

func finished(st saga.Status, data string) saga.Entry {
	e := entry(saga.Finished, -1, data)
	e.Status = st
	return e
}

// start creates the running saga (name, id) on b.Log and returns its token.
func start(t *testing.T, b Backend, name, id string) int64 {
	t.Helper()
	c, err := b.Log.Claim(context.Background(), name, id, lease, []saga.Entry{entry(saga.Started, -1, `{"x":1}`)})
	require.NoError(t, err)
	require.True(t, c.Created, "claim of a new id must create it")
	return c.Token
}

// finish writes a Compensated Finished entry for (name, id).
func finish(t *testing.T, b Backend, name, id string, token int64) {
	t.Helper()
	fin := finished(saga.Compensated, `{"x":3}`)
	fin.Err, fin.StepName = "declined", "step1"
	require.NoError(t, b.Log.Append(context.Background(), name, id, token, lease,
		[]saga.Entry{entry(saga.CompensationDone, 0, `{"x":3}`), fin}))
}

func claimCreates(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	c, err := b.Log.Claim(ctx, "s", "a", lease, []saga.Entry{entry(saga.Started, -1, `{"x":1}`), entry(saga.StepBegun, 0, `{"x":1}`)})
	require.NoError(t, err)
	assert.True(t, c.Created)
	assert.Positive(t, c.Token, "a claim's token")
	assert.Nil(t, c.Record, "a created claim has no record")

	rec, err := b.Other.Load(ctx, "s", "a")
	require.NoError(t, err)
	assert.Equal(t, "s", rec.Saga)
	assert.Equal(t, "a", rec.ID)
	assert.Equal(t, saga.Running, rec.Status)
	require.Len(t, rec.Entries, 2)
	e := rec.Entries[1]
	assert.Equal(t, saga.StepBegun, e.Kind)
	assert.Equal(t, 0, e.Step)
	assert.Equal(t, "step0", e.StepName)
	assert.JSONEq(t, `{"x":1}`, string(e.Data))
	assert.True(t, e.At.Equal(at), "At %v, want %v", e.At, at)
}

func entriesRoundTrip(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	tok := start(t, b, "s", "a")
	failed := entry(saga.StepFailed, 2, `{"nested":{"a":[1,2]}}`)
	failed.Attempts, failed.Duration, failed.Err = 3, 1500*time.Millisecond, "card declined"
	comp := entry(saga.CompensationFailed, 1, `{}`)
	comp.Attempts, comp.Duration, comp.Err = 7, time.Nanosecond, "bank down: \"quoted\"\n"
	fin := finished(saga.Failed, `{}`)
	fin.Err = "undo step1: bank down"
	require.NoError(t, b.Log.Append(ctx, "s", "a", tok, lease, []saga.Entry{failed, comp, fin}))

	rec, err := b.Other.Load(ctx, "s", "a")
	require.NoError(t, err)
	assert.Equal(t, saga.Failed, rec.Status)
	require.Len(t, rec.Entries, 4)
	for i, want := range []saga.Entry{failed, comp, fin} {
		got := rec.Entries[i+1]
		assert.Equal(t, want.Kind, got.Kind, "entry %d", i+1)
		assert.Equal(t, want.Step, got.Step, "entry %d", i+1)
		assert.Equal(t, want.StepName, got.StepName, "entry %d", i+1)
		assert.Equal(t, want.Attempts, got.Attempts, "entry %d", i+1)
		assert.Equal(t, want.Duration, got.Duration, "entry %d", i+1)
		assert.Equal(t, want.Err, got.Err, "entry %d", i+1)
		assert.JSONEq(t, string(want.Data), string(got.Data), "entry %d", i+1)
		assert.True(t, got.At.Equal(want.At), "entry %d: At %v, want %v", i+1, got.At, want.At)
	}
	assert.Equal(t, saga.Failed, rec.Entries[3].Status, "the Finished entry's status")
}

func claimRunningRefused(t *testing.T, _ Features, b Backend) {
	start(t, b, "s", "a")
	_, err := b.Other.Claim(context.Background(), "s", "a", lease, []saga.Entry{entry(saga.Started, -1, `{}`)})
	require.ErrorIs(t, err, saga.ErrRunning)
}

func otherSagaName(t *testing.T, _ Features, b Backend) {
	start(t, b, "s", "a")
	c, err := b.Other.Claim(context.Background(), "s2", "a", lease, []saga.Entry{entry(saga.Started, -1, `{}`)})
	require.NoError(t, err)
	assert.True(t, c.Created)
}

func appendChecksToken(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	tok := start(t, b, "s", "a")
	require.NoError(t, b.Log.Append(ctx, "s", "a", tok, lease, []saga.Entry{entry(saga.StepDone, 0, `{"x":2}`)}))
	err := b.Log.Append(ctx, "s", "a", tok+6, lease, []saga.Entry{entry(saga.StepDone, 0, `{}`)})
	require.ErrorIs(t, err, saga.ErrLeaseLost)
	rec, err := b.Other.Load(ctx, "s", "a")
	require.NoError(t, err)
	assert.Len(t, rec.Entries, 2, "a refused append must write nothing")
}

func renewChecksToken(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	tok := start(t, b, "s", "a")
	require.NoError(t, b.Log.Renew(ctx, "s", "a", tok, lease))
	require.ErrorIs(t, b.Log.Renew(ctx, "s", "a", tok+1, lease), saga.ErrLeaseLost)
}

func unknownID(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	start(t, b, "s", "a")
	assert.ErrorIs(t, b.Log.Append(ctx, "s", "nope", 1, lease, nil), saga.ErrNotFound, "append")
	assert.ErrorIs(t, b.Log.Renew(ctx, "s", "nope", 1, lease), saga.ErrNotFound, "renew")
	_, err := b.Log.Load(ctx, "s", "nope")
	assert.ErrorIs(t, err, saga.ErrNotFound, "load")
	_, err = b.Log.Claim(ctx, "s", "nope", lease, nil)
	assert.ErrorIs(t, err, saga.ErrNotFound, "claim without entries")
}

func abandonedExpiredOnly(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	tok := start(t, b, "s", "a")
	ids, err := b.Other.Abandoned(ctx, "s", 100)
	require.NoError(t, err)
	require.Empty(t, ids, "before expiry")

	b.Advance(30 * time.Second)
	require.NoError(t, b.Log.Renew(ctx, "s", "a", tok, lease)) // extends to now+lease
	b.Advance(45 * time.Second)                                // 75s after the claim, 45s after the renewal
	ids, err = b.Other.Abandoned(ctx, "s", 100)
	require.NoError(t, err)
	require.Empty(t, ids, "a renewed lease counted as expired")

	b.Advance(15 * time.Second)
	ids, err = b.Other.Abandoned(ctx, "s", 100)
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids, "after expiry")
}

func takeover(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	tok := start(t, b, "s", "a")
	require.NoError(t, b.Log.Append(ctx, "s", "a", tok, lease, []saga.Entry{entry(saga.StepDone, 0, `{"x":2}`)}))
	b.Advance(lease + time.Second)

	c, err := b.Other.Claim(ctx, "s", "a", lease, []saga.Entry{entry(saga.Started, -1, `{}`)})
	require.NoError(t, err)
	assert.False(t, c.Created)
	assert.Greater(t, c.Token, tok, "a takeover's token must be larger than the lost one")
	require.NotNil(t, c.Record)
	assert.Equal(t, saga.Running, c.Record.Status)
	require.Len(t, c.Record.Entries, 2, "a takeover must not write the given entries")
	assert.JSONEq(t, `{"x":2}`, string(c.Record.Entries[1].Data))

	err = b.Log.Append(ctx, "s", "a", tok, lease, []saga.Entry{entry(saga.StepBegun, 1, `{}`)})
	require.ErrorIs(t, err, saga.ErrLeaseLost, "the old owner wrote")
	require.ErrorIs(t, b.Log.Renew(ctx, "s", "a", tok, lease), saga.ErrLeaseLost, "the old owner renewed")
	ids, err := b.Other.Abandoned(ctx, "s", 100)
	require.NoError(t, err)
	assert.Empty(t, ids, "a taken-over saga is still abandoned")
	_, err = b.Log.Claim(ctx, "s", "a", lease, nil)
	require.ErrorIs(t, err, saga.ErrRunning, "claim under the new lease")
	require.NoError(t, b.Other.Append(ctx, "s", "a", c.Token, lease, []saga.Entry{entry(saga.StepBegun, 1, `{}`)}), "the new owner writes")
}

func finishRecordsStatus(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	finish(t, b, "s", "a", start(t, b, "s", "a"))
	rec, err := b.Other.Load(ctx, "s", "a")
	require.NoError(t, err)
	assert.Equal(t, saga.Compensated, rec.Status)
	require.Len(t, rec.Entries, 3)
	last := rec.Entries[2]
	assert.Equal(t, saga.Finished, last.Kind)
	assert.Equal(t, saga.Compensated, last.Status)
	assert.Equal(t, "declined", last.Err)
	assert.Equal(t, "step1", last.StepName)
}

func finishedRefusesWrites(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	tok := start(t, b, "s", "a")
	finish(t, b, "s", "a", tok)
	require.ErrorIs(t, b.Log.Append(ctx, "s", "a", tok, lease, nil), saga.ErrFinished, "write after finish")
	require.ErrorIs(t, b.Log.Renew(ctx, "s", "a", tok+1, lease), saga.ErrLeaseLost, "stale renew after finish (token checked first)")
}

func claimFinished(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	finish(t, b, "s", "a", start(t, b, "s", "a"))
	c, err := b.Other.Claim(ctx, "s", "a", lease, []saga.Entry{entry(saga.Started, -1, `{}`)})
	require.NoError(t, err)
	assert.False(t, c.Created)
	assert.Zero(t, c.Token, "claim of a finished saga holds no lease")
	require.NotNil(t, c.Record)
	assert.Equal(t, saga.Compensated, c.Record.Status)
	assert.Len(t, c.Record.Entries, 3, "claim of a finished saga must not write")
}

func finishedNotAbandoned(t *testing.T, _ Features, b Backend) {
	finish(t, b, "s", "a", start(t, b, "s", "a"))
	b.Advance(10 * time.Minute)
	ids, err := b.Other.Abandoned(context.Background(), "s", 100)
	require.NoError(t, err)
	assert.Empty(t, ids)
}

func claimFinishesAtOnce(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	c, err := b.Log.Claim(ctx, "s", "quick", lease, []saga.Entry{entry(saga.Started, -1, `{}`), finished(saga.Completed, `{}`)})
	require.NoError(t, err)
	assert.True(t, c.Created)
	rec, err := b.Other.Load(ctx, "s", "quick")
	require.NoError(t, err)
	assert.Equal(t, saga.Completed, rec.Status)
	b.Advance(2 * lease)
	ids, err := b.Other.Abandoned(ctx, "s", 100)
	require.NoError(t, err)
	assert.Empty(t, ids, "a saga finished by its claim is abandoned")
}

func abandonedBoundedByMax(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		start(t, b, "many", fmt.Sprint("id-", i))
	}
	start(t, b, "other", "id-0")
	b.Advance(2 * lease)
	ids, err := b.Other.Abandoned(ctx, "many", 100)
	require.NoError(t, err)
	require.Len(t, ids, 20)
	sort.Strings(ids)
	assert.Equal(t, "id-0", ids[0])
	assert.Equal(t, "id-9", ids[19])
	ids, err = b.Other.Abandoned(ctx, "many", 7)
	require.NoError(t, err)
	assert.Len(t, ids, 7, "max 7")
}

// race runs fn from n goroutines released together and returns their
// errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			errs[i] = fn(i)
		}()
	}
	close(gate)
	wg.Wait()
	return errs
}

func racingClaims(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	const n = 8
	created := make([]bool, n)
	errs := race(n, func(i int) error {
		l := b.Log
		if i%2 == 1 {
			l = b.Other
		}
		c, err := l.Claim(ctx, "s", "a", lease, []saga.Entry{entry(saga.Started, -1, fmt.Sprintf(`{"by":%d}`, i))})
		created[i] = c.Created
		return err
	})
	winners := 0
	for i, err := range errs {
		if err == nil {
			winners++
			assert.True(t, created[i], "claim %d succeeded without creating", i)
			continue
		}
		assert.ErrorIs(t, err, saga.ErrRunning, "claim %d", i)
	}
	require.Equal(t, 1, winners, "exactly one racing claim may create the saga")
	rec, err := b.Other.Load(ctx, "s", "a")
	require.NoError(t, err)
	assert.Len(t, rec.Entries, 1, "only the winner's entries are written")
}

func racingTakeovers(t *testing.T, _ Features, b Backend) {
	ctx := context.Background()
	tok := start(t, b, "s", "a")
	b.Advance(lease + time.Second)
	const n = 8
	tokens := make([]int64, n)
	errs := race(n, func(i int) error {
		l := b.Log
		if i%2 == 1 {
			l = b.Other
		}
		c, err := l.Claim(ctx, "s", "a", lease, nil)
		tokens[i] = c.Token
		return err
	})
	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two racing takeovers won: %d and %d", winner, i)
			winner = i
			continue
		}
		assert.ErrorIs(t, err, saga.ErrRunning, "takeover %d", i)
	}
	require.NotEqual(t, -1, winner, "no racing takeover won")
	assert.Greater(t, tokens[winner], tok)
	require.NoError(t, b.Log.Renew(ctx, "s", "a", tokens[winner], lease), "the winner holds the lease")
}

func retention(t *testing.T, f Features, b Backend) {
	if b.Retention <= 0 {
		t.Skip("sagatest: the factory gave no Backend.Retention, so the retention case cannot know how long to wait")
	}
	if f.NoRetentionTimeTravel {
		t.Skip("sagatest: Features.NoRetentionTimeTravel: finished sagas expire by a clock Advance cannot move")
	}
	ctx := context.Background()
	finish(t, b, "s", "a", start(t, b, "s", "a"))
	b.Advance(b.Retention - time.Minute)
	_, err := b.Other.Load(ctx, "s", "a")
	require.NoError(t, err, "a finished saga dropped before its retention ended")

	b.Advance(2 * time.Minute)
	_, err = b.Other.Load(ctx, "s", "a")
	require.ErrorIs(t, err, saga.ErrNotFound, "after the retention")
	c, err := b.Log.Claim(ctx, "s", "a", lease, []saga.Entry{entry(saga.Started, -1, `{}`)})
	require.NoError(t, err)
	assert.True(t, c.Created, "an id is reusable after the retention")
}

func cancelledContext(t *testing.T, _ Features, b Backend) {
	tok := start(t, b, "s", "a")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Log.Claim(ctx, "s", "new", lease, []saga.Entry{entry(saga.Started, -1, `{}`)})
	assert.ErrorIs(t, err, context.Canceled, "claim")
	assert.ErrorIs(t, b.Log.Append(ctx, "s", "a", tok, lease, []saga.Entry{entry(saga.StepBegun, 0, `{}`)}), context.Canceled, "append")
	assert.ErrorIs(t, b.Log.Renew(ctx, "s", "a", tok, lease), context.Canceled, "renew")
	_, err = b.Log.Load(ctx, "s", "a")
	assert.ErrorIs(t, err, context.Canceled, "load")
	_, err = b.Log.Abandoned(ctx, "s", 10)
	assert.ErrorIs(t, err, context.Canceled, "abandoned")

	_, err = b.Other.Load(context.Background(), "s", "new")
	assert.ErrorIs(t, err, saga.ErrNotFound, "a cancelled claim created the saga")
	rec, err := b.Other.Load(context.Background(), "s", "a")
	require.NoError(t, err)
	assert.Len(t, rec.Entries, 1, "a cancelled append wrote")
}
