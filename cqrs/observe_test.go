package cqrs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// observations collects what an observer is handed, safe for the
// runner's goroutine and the test's.
type observations struct {
	mu  sync.Mutex
	obs []Observation
}

func (o *observations) add(ob Observation) { o.mu.Lock(); o.obs = append(o.obs, ob); o.mu.Unlock() }

func (o *observations) kinds() []ObservationKind {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []ObservationKind
	for _, ob := range o.obs {
		out = append(out, ob.Kind)
	}
	return out
}

func (o *observations) first(k ObservationKind) (Observation, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ob := range o.obs {
		if ob.Kind == k {
			return ob, true
		}
	}
	return Observation{}, false
}

var (
	_ RunnerOption     = WithObserver(func(Observation) {})
	_ RepositoryOption = WithLogger(slog.Default())
	_ RunnerOption     = WithBatchSize(1)
	_ RepositoryOption = WithConflictRetries(1)
)

func TestObservationKindStrings(t *testing.T) {
	for k, want := range map[ObservationKind]string{
		ReadFailed: "read-failed", ApplyFailed: "apply-failed", StoreBehind: "store-behind", Rebuilt: "rebuilt",
		ConflictRetried: "conflict-retried", SnapshotFailed: "snapshot-failed", ObservationKind(0): "ObservationKind(0)",
	} {
		assert.Equal(t, want, k.String())
	}
}

func TestObserverOptionsRefuseNil(t *testing.T) {
	m, err := NewMemoryReadModel("m", balances)
	require.NoError(t, err)
	_, err = NewRunner(NewMemoryStore(), m, WithObserver(nil))
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// A nil logger is the default, as in every package: accepted, logs nothing.
func TestNilLoggerIsTheDefault(t *testing.T) {
	_, err := NewRepository(NewMemoryStore(), evolveAccount, WithLogger(nil))
	require.NoError(t, err)
}

// A poison event: the observer sees ApplyFailed with the attempt and the
// backoff, before WithOnError; the logger warns; Stats count it.
func TestRunnerObservesApplyFailures(t *testing.T) {
	s := NewMemoryStore()
	for i := 1; i <= 4; i++ {
		mustAppend(t, s, "a", AnyVersion, deposited(i))
	}
	poison := errors.New("poison")
	var left atomic.Int64
	left.Store(2)
	m, err := NewMemoryReadModel("flaky", func(ctx context.Context, tx *Tx[int], e Event) error {
		if e.Position == 3 && left.Add(-1) >= 0 {
			return poison
		}
		return balances(ctx, tx, e)
	})
	require.NoError(t, err)
	var obs observations
	var logs bytes.Buffer
	var onError []int // observations seen when WithOnError was called
	r, err := NewRunner(s, m, WithBatchSize(2), WithRetryBackoff(time.Millisecond, 2*time.Millisecond),
		WithObserver(obs.add), WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))),
		WithOnError(func(error) error { onError = append(onError, len(obs.kinds())); return nil }))
	require.NoError(t, err)
	stop := runInBackground(t, r)
	require.NoError(t, r.WaitFor(within(t, 5*time.Second), 4))
	require.NoError(t, stop())

	assert.Equal(t, []ObservationKind{ApplyFailed, ApplyFailed}, obs.kinds())
	assert.Equal(t, []int{1, 2}, onError, "the observer sees an error before WithOnError")
	ob, _ := obs.first(ApplyFailed)
	assert.ErrorIs(t, ob.Err, poison)
	assert.Equal(t, "flaky", ob.Projection)
	assert.Equal(t, int64(2), ob.Position)
	assert.Equal(t, 1, ob.Attempt)
	assert.Equal(t, time.Millisecond, ob.Backoff)

	st := r.Stats()
	assert.Equal(t, RunnerStats{Position: 4, Applied: 4, Batches: 2, Failures: 2}, st)

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2)
	var line map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &line))
	assert.Equal(t, "WARN", line["level"])
	assert.Equal(t, "apply-failed", line["kind"])
	assert.Equal(t, "flaky", line["projection"])
	assert.Contains(t, line["err"], "poison")
}

// A store that lost its events: StoreBehind, then Rebuilt, each once;
// Stats count them.
func TestRunnerObservesStoreBehindAndRebuild(t *testing.T) {
	store := &losingStore{s: NewMemoryStore()}
	m, err := NewMemoryReadModel("balances", balances)
	require.NoError(t, err)
	var obs observations
	r, err := NewRunner(store, m, WithRetryBackoff(time.Millisecond, 10*time.Millisecond), WithObserver(obs.add))
	require.NoError(t, err)
	stop := runInBackground(t, r)
	for i := 0; i < 5; i++ {
		mustAppend(t, store, "a", AnyVersion, deposited(1))
	}
	require.NoError(t, r.WaitFor(within(t, 5*time.Second), 5))
	store.Lose()
	mustAppend(t, store, "b", AnyVersion, deposited(2))
	eventually(t, "the rebuild is observed", func() bool {
		_, ok := obs.first(Rebuilt)
		return ok
	})
	require.NoError(t, stop())
	behind, ok := obs.first(StoreBehind)
	require.True(t, ok)
	assert.ErrorIs(t, behind.Err, ErrStoreBehind)
	assert.Equal(t, int64(5), behind.Position)
	assert.Equal(t, int64(1), behind.Head)
	rebuilt, _ := obs.first(Rebuilt)
	assert.NoError(t, rebuilt.Err)
	st := r.Stats()
	assert.Equal(t, uint64(1), st.StoreBehind)
	assert.Equal(t, uint64(1), st.Rebuilds)
}

// A failing read of the log is ReadFailed.
func TestRunnerObservesReadFailures(t *testing.T) {
	m, err := NewMemoryReadModel("down", balances)
	require.NoError(t, err)
	var obs observations
	r, err := NewRunner(failingStore{NewMemoryStore()}, m, WithRetryBackoff(time.Millisecond, time.Millisecond),
		WithObserver(obs.add))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.NoError(t, r.Run(ctx))
	ob, ok := obs.first(ReadFailed)
	require.True(t, ok)
	assert.EqualError(t, ob.Err, "store down")
	assert.Equal(t, uint64(len(obs.kinds())), r.Stats().Failures)
}

// conflictOnce makes the first append of each stream lose a race.
type conflictOnce struct {
	EventStore
	raced atomic.Bool
}

func (c *conflictOnce) Append(ctx context.Context, id string, exp int64, evs ...Event) (int64, error) {
	if c.raced.CompareAndSwap(false, true) {
		if _, err := c.EventStore.Append(ctx, id, exp, deposited(1)); err != nil {
			return 0, err
		}
	}
	return c.EventStore.Append(ctx, id, exp, evs...)
}

func TestRepositoryObservesConflictsAndSnapshots(t *testing.T) {
	ctx := context.Background()
	var obs observations
	snapErr := errors.New("snapshots down")
	var legacy []error
	repo, err := NewRepository(&conflictOnce{EventStore: NewMemoryStore()}, evolveAccount,
		WithConflictRetries(1), WithObserver(obs.add), WithSnapshots(failingSnapshots{snapErr}, 1),
		WithSnapshotErrors(func(_ string, err error) { legacy = append(legacy, err) }))
	require.NoError(t, err)
	_, err = repo.Execute(ctx, "acc", openAcc("ann"))
	require.NoError(t, err)

	ob, ok := obs.first(ConflictRetried)
	require.True(t, ok)
	assert.Equal(t, "acc", ob.StreamID)
	assert.Equal(t, 1, ob.Attempt)
	assert.ErrorIs(t, ob.Err, ErrConflict)
	snap, ok := obs.first(SnapshotFailed)
	require.True(t, ok)
	assert.ErrorIs(t, snap.Err, snapErr)
	assert.NotEmpty(t, legacy, "WithSnapshotErrors is still called")

	st := repo.Stats()
	assert.Equal(t, uint64(1), st.Commands)
	assert.Equal(t, uint64(1), st.ConflictsRetried)
	assert.Equal(t, uint64(0), st.Conflicts)
	assert.Equal(t, uint64(len(legacy)), st.SnapshotFailures)
}

// failingSnapshots fails every call.
type failingSnapshots struct{ err error }

func (f failingSnapshots) LoadSnapshot(context.Context, string) (Snapshot, bool, error) {
	return Snapshot{}, false, f.err
}
func (f failingSnapshots) SaveSnapshot(context.Context, Snapshot) error { return f.err }
