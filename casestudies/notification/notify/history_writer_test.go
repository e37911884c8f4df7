package notify

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
)

// batchStore records the batches it is given; each waits for gate (if
// set) to be closed, and fail decides an item's own error.
type batchStore struct {
	cqrs.EventStore // only AppendBatch is called

	gate    chan struct{}
	entered chan struct{} // a token per batch that arrived
	fail    func(cqrs.StreamAppend) error
	callErr error

	mu      sync.Mutex
	batches [][]string
	direct  []string // streams appended to one by one
}

func newBatchStore() *batchStore { return &batchStore{entered: make(chan struct{}, 1024)} }

// occupy starts maxHistoryFlushes appends (streams s0…) and returns once
// each holds a flushing slot, its batch held at store's gate.
func occupy(ctx context.Context, w *historyWriter, store *batchStore) <-chan map[string]error {
	out := make(chan map[string]error, 1)
	var each []<-chan map[string]error
	for i := range maxHistoryFlushes {
		// One at a time: appends made together could share a batch.
		each = append(each, appendAll(ctx, w, i, 1))
		<-store.entered
	}
	go func() {
		all := map[string]error{}
		for _, c := range each {
			maps.Copy(all, <-c)
		}
		out <- all
	}()
	return out
}

func (b *batchStore) AppendBatch(_ context.Context, batch []cqrs.StreamAppend) ([]cqrs.AppendResult, error) {
	b.entered <- struct{}{}
	if b.gate != nil {
		<-b.gate // every batch waits until the gate is closed
	}
	ids := make([]string, len(batch))
	out := make([]cqrs.AppendResult, len(batch))
	for i, it := range batch {
		ids[i] = it.StreamID
		if b.fail != nil {
			out[i].Err = b.fail(it)
		}
	}
	b.mu.Lock()
	b.batches = append(b.batches, ids)
	b.mu.Unlock()
	if b.callErr != nil {
		return nil, b.callErr
	}
	return out, nil
}

func (b *batchStore) sizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n []int
	for _, ids := range b.batches {
		n = append(n, len(ids))
	}
	return n
}

func pendingLen(w *historyWriter) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// appendAll starts n appends to streams s0…s(n-1) and returns their errors
// once all are back.
func appendAll(ctx context.Context, w *historyWriter, from, n int) <-chan map[string]error {
	out := make(chan map[string]error, 1)
	go func() {
		var mu sync.Mutex
		errs := map[string]error{}
		var wg sync.WaitGroup
		for i := from; i < from+n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("s%d", i)
				err := w.append(ctx, id, cqrs.StreamExists)
				mu.Lock()
				errs[id] = err
				mu.Unlock()
			}()
		}
		wg.Wait()
		out <- errs
	}()
	return out
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
	}
}

func TestHistoryWriterFlushesALoneAppendAtOnce(t *testing.T) {
	store := newBatchStore()
	w := newHistoryWriter(store)
	require.NoError(t, w.append(context.Background(), "s", cqrs.StreamExists))
	assert.Equal(t, []int{1}, store.sizes())
	assert.Zero(t, w.flushing, "the flusher handed nothing on and stopped")
}

// Appends made while a flush is in flight go together in the next one, at
// most maxHistoryBatch at a time, and each caller gets its own outcome.
func TestHistoryWriterGroupsConcurrentAppends(t *testing.T) {
	store := newBatchStore()
	store.gate = make(chan struct{})
	bad := errors.New("conflict")
	store.fail = func(it cqrs.StreamAppend) error {
		if it.StreamID == "s7" {
			return bad
		}
		return nil
	}
	w := newHistoryWriter(store)
	ctx := context.Background()
	first := occupy(ctx, w, store)
	const waiting = maxHistoryBatch + 10
	rest := appendAll(ctx, w, maxHistoryFlushes, waiting)
	waitFor(t, func() bool { return pendingLen(w) == waiting }, "the appends never queued up behind the flush")
	close(store.gate)

	errs := <-first
	for id, err := range <-rest {
		errs[id] = err
	}
	require.Len(t, errs, waiting+maxHistoryFlushes)
	for id, err := range errs {
		if id == "s7" {
			assert.ErrorIs(t, err, bad, "an item's own error goes to its caller")
		} else {
			assert.NoError(t, err, id)
		}
	}
	// The slots' lone appends, then the waiting ones: a full batch and
	// the rest (two batches in flight, so either may leave first).
	want := []int{maxHistoryBatch, 10}
	for range maxHistoryFlushes {
		want = append(want, 1)
	}
	assert.ElementsMatch(t, want, store.sizes())
	assert.Zero(t, w.flushing)
}

// A failure of the batch as a whole is every item's.
func TestHistoryWriterCallErrorReachesEveryItem(t *testing.T) {
	store := newBatchStore()
	store.gate = make(chan struct{})
	store.callErr = errors.New("redis down")
	w := newHistoryWriter(store)
	first := occupy(context.Background(), w, store)
	rest := appendAll(context.Background(), w, maxHistoryFlushes, 5)
	waitFor(t, func() bool { return pendingLen(w) == 5 }, "the appends never queued up")
	close(store.gate)
	for id, err := range <-first {
		assert.ErrorIs(t, err, store.callErr, id)
	}
	for id, err := range <-rest {
		assert.ErrorIs(t, err, store.callErr, id)
	}
}

// A caller whose ctx ends while its append waits its turn withdraws it:
// it is never written; the others still are.
func TestHistoryWriterWithdrawsAWaitingAppendWhoseCtxEnds(t *testing.T) {
	store := newBatchStore()
	store.gate = make(chan struct{})
	w := newHistoryWriter(store)
	first := occupy(context.Background(), w, store)
	ctx, cancel := context.WithCancel(context.Background())
	const goneID, staysID = maxHistoryFlushes, maxHistoryFlushes + 1
	gone := appendAll(ctx, w, goneID, 1)
	waitFor(t, func() bool { return pendingLen(w) == 1 }, "the append never queued up")
	stays := appendAll(context.Background(), w, staysID, 1)
	waitFor(t, func() bool { return pendingLen(w) == 2 }, "the appends never queued up")
	cancel()
	assert.ErrorIs(t, (<-gone)[fmt.Sprintf("s%d", goneID)], context.Canceled)
	close(store.gate)
	for id, err := range <-first {
		assert.NoError(t, err, id)
	}
	assert.NoError(t, (<-stays)[fmt.Sprintf("s%d", staysID)])
	store.mu.Lock()
	defer store.mu.Unlock()
	var written []string
	for _, b := range store.batches {
		written = append(written, b...)
	}
	want := []string{fmt.Sprintf("s%d", staysID)}
	for i := range maxHistoryFlushes {
		want = append(want, fmt.Sprintf("s%d", i))
	}
	assert.ElementsMatch(t, want, written, "the withdrawn append was written, or another was not")
}

func (b *batchStore) Append(_ context.Context, stream string, _ int64, _ ...cqrs.Event) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.direct = append(b.direct, stream)
	return 1, nil
}

// A critical notification's append waits behind no one's batch: it lands
// while a group commit is held up.
func TestUrgentAppendSkipsTheGroupCommit(t *testing.T) {
	store := newBatchStore()
	store.gate = make(chan struct{})
	defer close(store.gate)
	s := &Service{store: store, history: newHistoryWriter(store)}
	ctx := context.Background()
	held := make(chan error, 1)
	go func() { held <- s.appendHistory(ctx, false, "normal", cqrs.StreamExists) }()
	<-store.entered
	done := make(chan error, 1)
	go func() { done <- s.appendHistory(ctx, true, "critical", cqrs.StreamExists) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the urgent append waited for the group commit")
	}
	store.mu.Lock()
	assert.Equal(t, []string{"critical"}, store.direct)
	store.mu.Unlock()
	select {
	case <-held:
		t.Fatal("the held batch returned before its store did")
	default:
	}
}
