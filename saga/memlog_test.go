package saga

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type plainData struct {
	ID    string
	N     int
	Flags [2]bool
	Inner struct{ U uint8 }
}

type marshalsItself struct{ N int }

func (m marshalsItself) MarshalJSON() ([]byte, error) { return []byte(`"x"`), nil }

func TestComparableJSON(t *testing.T) {
	for typ, want := range map[reflect.Type]bool{
		reflect.TypeFor[plainData]():                  true,
		reflect.TypeFor[string]():                     true,
		reflect.TypeFor[[3]int64]():                   true,
		reflect.TypeFor[float64]():                    false, // 0 == -0
		reflect.TypeFor[struct{ F float32 }]():        false,
		reflect.TypeFor[*plainData]():                 false,
		reflect.TypeFor[[]int]():                      false,
		reflect.TypeFor[map[string]int]():             false,
		reflect.TypeFor[struct{ A any }]():            false,
		reflect.TypeFor[time.Time]():                  false,
		reflect.TypeFor[marshalsItself]():             false,
		reflect.TypeFor[struct{ M marshalsItself }](): false,
	} {
		require.Equal(t, want, comparableJSON(typ), "%v", typ)
	}
}

// The log compares an entry's data with its own copy of the previous one:
// a caller reusing its buffer after Append does not make two different
// data look the same.
func TestMemoryLogKeepsItsOwnCopy(t *testing.T) {
	ctx := context.Background()
	l, err := NewMemoryLog()
	require.NoError(t, err)
	buf := []byte(`{"v":1}`)
	c, err := l.Claim(ctx, "s", "id", time.Minute, []Entry{{Kind: Started, Step: -1, Data: buf}})
	require.NoError(t, err)
	copy(buf, `{"v":2}`)
	require.NoError(t, l.Append(ctx, "s", "id", c.Token, time.Minute, []Entry{{Kind: StepBegun, Step: 0, StepName: "a", Data: buf}}))
	copy(buf, `{"v":3}`)
	rec, err := l.Load(ctx, "s", "id")
	require.NoError(t, err)
	require.Len(t, rec.Entries, 2)
	require.JSONEq(t, `{"v":1}`, string(rec.Entries[0].Data))
	require.JSONEq(t, `{"v":2}`, string(rec.Entries[1].Data))
}

// Each transition is logged with the data as it was then, whether a step
// changed it or not, for a type == can compare and for one it cannot, on
// the MemoryLog's shortcut and through the Log interface.
func TestLoggedDataFollowsSteps(t *testing.T) {
	type listData struct {
		ID    string
		Items []string
	}
	check := func(t *testing.T, rec *Record, want []string) {
		t.Helper()
		var got []string
		for _, e := range rec.Entries {
			if e.Kind == StepDone || e.Kind == Finished {
				got = append(got, string(e.Data))
			}
		}
		require.Equal(t, want, got)
	}
	logs := map[string]func() Log{
		"memory":  func() Log { l, _ := NewMemoryLog(); return l },
		"wrapped": func() Log { l, _ := NewMemoryLog(); return struct{ Log }{l} },
	}
	for name, newLog := range logs {
		t.Run(name+"/comparable", func(t *testing.T) {
			nop := func(context.Context, *plainData) error { return nil }
			s := mustNew(t, "p", []Step[plainData]{
				{Name: "a", Action: func(_ context.Context, d *plainData) error { d.N = 2; return nil }},
				{Name: "b", Action: nop},
				{Name: "c", Action: func(_ context.Context, d *plainData) error { d.Inner.U = 7; d.N = 3; return nil }},
			}, WithLog(newLog()))
			require.True(t, s.comparable)
			res, err := s.Execute(context.Background(), "x", plainData{ID: "x", N: 1})
			require.NoError(t, err)
			require.Equal(t, 3, res.Data.N)
			rec, err := s.Log().Load(context.Background(), "p", "x")
			require.NoError(t, err)
			enc := func(n int, u uint8) string {
				b, _ := json.Marshal(plainData{ID: "x", N: n, Inner: struct{ U uint8 }{u}})
				return string(b)
			}
			check(t, rec, []string{enc(2, 0), enc(2, 0), enc(3, 7), enc(3, 7)})
		})
		t.Run(name+"/slice", func(t *testing.T) {
			add := func(v string) func(context.Context, *listData) error {
				return func(_ context.Context, d *listData) error { d.Items = append(d.Items, v); return nil }
			}
			s := mustNew(t, "l", []Step[listData]{
				{Name: "a", Action: add("1")},
				{Name: "b", Action: func(context.Context, *listData) error { return nil }},
				{Name: "c", Action: add("2")},
			}, WithLog(newLog()))
			require.False(t, s.comparable)
			_, err := s.Execute(context.Background(), "x", listData{ID: "x"})
			require.NoError(t, err)
			rec, err := s.Log().Load(context.Background(), "l", "x")
			require.NoError(t, err)
			one, two := `{"ID":"x","Items":["1"]}`, `{"ID":"x","Items":["1","2"]}`
			check(t, rec, []string{one, one, two, two})
		})
	}
}

// Runs are pooled: many executions at once, each with its own data, each
// get back their own Result and their own log, and every one of the
// first tries' contexts stays as its step saw it.
func TestPooledRunsKeepExecutionsApart(t *testing.T) {
	var mu sync.Mutex
	infos := map[string]StepInfo{}
	keep := func(ctx context.Context, d *plainData) error {
		i, _ := Info(ctx)
		mu.Lock()
		infos[i.ID+"/"+i.Step] = i
		mu.Unlock()
		d.N++
		return nil
	}
	fail := func(ctx context.Context, d *plainData) error {
		if d.ID[len(d.ID)-1]%3 == 0 {
			return Permanent(fmt.Errorf("no %s", d.ID))
		}
		return keep(ctx, d)
	}
	s := mustNew(t, "pool", []Step[plainData]{
		{Name: "a", Action: keep, Compensate: keep},
		{Name: "b", Action: fail},
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				id := fmt.Sprint("g", g, "-", i)
				res, err := s.Execute(context.Background(), id, plainData{ID: id})
				assert.Equal(t, id, res.ID)
				assert.Equal(t, id, res.Data.ID)
				rec, lerr := s.Log().Load(context.Background(), "pool", id)
				if !assert.NoError(t, lerr) {
					return
				}
				assert.Equal(t, id, rec.ID)
				var last plainData
				assert.NoError(t, json.Unmarshal(rec.Entries[len(rec.Entries)-1].Data, &last))
				assert.Equal(t, res.Data, last)
				if id[len(id)-1]%3 == 0 {
					assert.ErrorIs(t, err, ErrCompensated)
					assert.Equal(t, 2, res.Data.N) // a, then its compensation
				} else {
					assert.NoError(t, err)
					assert.Equal(t, 2, res.Data.N)
				}
			}
		}()
	}
	wg.Wait()
	for key, i := range infos {
		require.Equal(t, key, i.ID+"/"+i.Step)
		require.Equal(t, "pool", i.Saga)
	}
}

// On a MemoryLog the Saga's shared beats renew every running saga: while
// steps outlast the lease, each saga's lease is extended again and again
// (another Saga on the log cannot take one over), and once no saga runs
// the timer stops.
func TestSharedBeatsKeepLeases(t *testing.T) {
	ml, err := NewMemoryLog()
	require.NoError(t, err)
	const lease = 300 * time.Millisecond // beats every 100ms
	other := mustNew(t, "beat", []Step[plainData]{{Name: "a", Action: func(context.Context, *plainData) error { return nil }}}, WithLog(ml), WithLease(lease))
	var wg sync.WaitGroup
	release, started := make(chan struct{}), make(chan struct{}, 3)
	slow := func(ctx context.Context, _ *plainData) error {
		started <- struct{}{}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	s := mustNew(t, "beat", []Step[plainData]{{Name: "a", Action: slow}}, WithLog(ml), WithLease(lease))
	require.NotNil(t, s.beats)
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Execute(context.Background(), fmt.Sprint("id", i), plainData{})
		}()
	}
	for range errs {
		<-started
	}
	expiry := func(id string) time.Time {
		sh, h := ml.locate("beat", id)
		sh.mu.Lock()
		defer sh.mu.Unlock()
		return ml.epoch.Add(sh.find(h, "beat", id).expires)
	}
	for i := range errs {
		id := fmt.Sprint("id", i)
		first := expiry(id)
		for renewals := 0; renewals < 2; {
			require.Eventually(t, func() bool { return expiry(id).After(first) }, 10*time.Second, time.Millisecond, "%s is not renewed", id)
			first = expiry(id)
			renewals++
		}
		_, err := other.Execute(context.Background(), id, plainData{})
		require.ErrorIs(t, err, ErrRunning, "%s, just renewed, is taken over", id)
	}
	close(release)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		s.beats.mu.Lock()
		defer s.beats.mu.Unlock()
		return !s.beats.armed && s.beats.head == nil
	}, 5*time.Second, time.Millisecond, "the shared timer stops when no saga runs")
}

// A saga id run again after its record's retention is a new record: the
// sweep that drops the old one (when the new run finishes) leaves the new
// one be.
func TestMemoryLogSweepSparesARerunID(t *testing.T) {
	clock := newFakeClock()
	ml, err := NewMemoryLog(WithClock(clock.Now), WithRetention(time.Minute))
	require.NoError(t, err)
	runs := 0
	s := mustNew(t, "again", []Step[plainData]{{Name: "a", Action: func(context.Context, *plainData) error { runs++; return nil }}}, WithLog(ml), WithClock(clock.Now))
	ctx := context.Background()
	_, err = s.Execute(ctx, "x", plainData{})
	require.NoError(t, err)
	clock.Advance(2 * time.Minute)
	res, err := s.Execute(ctx, "x", plainData{N: 2})
	require.NoError(t, err)
	require.False(t, res.Replayed, "past the retention the id is new again")
	require.Equal(t, 2, runs)
	got, err := s.Get(ctx, "x")
	require.NoError(t, err, "the sweep dropped the old record, not the new one")
	require.Equal(t, 2, got.Data.N)
	clock.Advance(2 * time.Minute)
	_, err = ml.Load(ctx, "again", "x")
	require.ErrorIs(t, err, ErrNotFound, "past its retention the new record is gone too")
}
