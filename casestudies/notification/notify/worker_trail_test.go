package notify

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/internal/redistest"
	"github.com/sysdesign/patterns/queue"
)

// finalJobs returns the jobs whose final status evs record.
func finalJobs(stream string, evs []cqrs.Event) []string {
	var jobs []string
	for _, e := range evs {
		if e.Type != eventStatus {
			continue
		}
		if sd, err := decodeStatus(e.Data); err == nil && sd.Status.Final() {
			jobs = append(jobs, jobID(strings.TrimPrefix(stream, streamPrefix), sd.Channel))
		}
	}
	return jobs
}

// orderLog is the order in which final statuses were stored and jobs
// acked, by job ID: "stored <id>" once the append returned without
// error, "ack <id>" when an ack was asked for.
type orderLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *orderLog) add(what, id string) {
	l.mu.Lock()
	l.lines = append(l.lines, what+" "+id)
	l.mu.Unlock()
}

func (l *orderLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// hookedStore logs the final statuses it stored and can hold the first
// append that carries one until released.
type hookedStore struct {
	cqrs.EventStore
	log *orderLog

	mu      sync.Mutex
	hold    bool          // hold the first final append
	held    string        // the job whose final append is held
	entered chan string   // receives held once it is
	release chan struct{} // closed to let it go
}

func (s *hookedStore) gate(stream string, evs []cqrs.Event) {
	jobs := finalJobs(stream, evs)
	if len(jobs) == 0 {
		return
	}
	s.mu.Lock()
	hold := s.hold && s.held == ""
	if hold {
		s.held = jobs[0]
	}
	s.mu.Unlock()
	if hold {
		s.entered <- jobs[0]
		<-s.release
	}
}

func (s *hookedStore) stored(stream string, evs []cqrs.Event) {
	if s.log == nil {
		return
	}
	for _, id := range finalJobs(stream, evs) {
		s.log.add("stored", id)
	}
}

func (s *hookedStore) Append(ctx context.Context, stream string, expected int64, evs ...cqrs.Event) (int64, error) {
	s.gate(stream, evs)
	v, err := s.EventStore.Append(ctx, stream, expected, evs...)
	if err == nil {
		s.stored(stream, evs)
	}
	return v, err
}

// AppendBatch keeps the group commit's batching on stores that have it.
func (s *hookedStore) AppendBatch(ctx context.Context, batch []cqrs.StreamAppend) ([]cqrs.AppendResult, error) {
	for _, it := range batch {
		s.gate(it.StreamID, it.Events)
	}
	res, err := cqrs.AppendBatch(ctx, s.EventStore, batch)
	if err == nil {
		for i, it := range batch {
			if res[i].Err == nil {
				s.stored(it.StreamID, it.Events)
			}
		}
	}
	return res, err
}

// loggedQueue logs every ack asked for, by Next or Ack, before it is made.
type loggedQueue struct {
	queue.Queue
	log *orderLog
}

func (q *loggedQueue) Next(ctx context.Context, done *queue.Delivery) (*queue.Delivery, error) {
	if done != nil {
		q.log.add("ack", done.ID)
	}
	return q.Queue.Next(ctx, done)
}

func (q *loggedQueue) Ack(ctx context.Context, d *queue.Delivery) error {
	q.log.add("ack", d.ID)
	return q.Queue.Ack(ctx, d)
}

// hook puts s between the service and its history store (the group
// commit's too); call it before the service starts.
func (s *hookedStore) hook(svc *Service) {
	s.EventStore = svc.store
	svc.store = s
	if svc.history != nil {
		svc.history.store = s
	}
}

func newHoldingStore() *hookedStore {
	return &hookedStore{hold: true, entered: make(chan string, 1), release: make(chan struct{})}
}

// queueEmpty reports whether h's queue holds no job at all.
func queueEmpty(h *harness) bool {
	ready, scheduled, leased, err := h.svc.queue.Len(context.Background())
	return err == nil && ready+scheduled+leased == 0
}

// On Redis a worker takes and sends its next job while the history record
// of the delivery before is still in flight; that delivery stays leased
// (not acked) until its record has landed, and then both are acked.
func TestWorkerGoesOnWhileTheRecordIsInFlight(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		h := newHarnessAt(t, clockAtStart(), false, onRedis(tg.Client, tg.Prefix), func(c *Config) { c.Workers = 1 })
		store := newHoldingStore()
		store.hook(h.svc)
		h.start()
		ids := []string{
			h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "1"}),
			h.post(map[string]any{"user_id": "bob", "channels": []string{"push"}, "body": "2"}),
		}
		var held string
		select {
		case held = <-store.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("no final status was ever recorded")
		}
		eventually(t, func() bool { return len(h.sent()) == 2 }, "the one worker never sent its next job while the record was held")
		_, _, leased, err := h.svc.queue.Len(context.Background())
		require.NoError(t, err)
		assert.NotZero(t, leased, "a delivery was acked before its history was recorded")
		assert.NotEqual(t, Sent, h.view(strings.TrimSuffix(held, ".push")).Channels["push"].Status)

		close(store.release)
		for _, id := range ids {
			h.waitStatus(id, "push", Sent)
		}
		eventually(t, func() bool { return queueEmpty(h) }, "the deliveries were never acked")
		assert.Len(t, h.sent(), 2, "a delivery was sent twice")
	})
}

// No delivery is acked before its final history entry is stored, on every
// backend, with several workers and channels.
func TestNoAckBeforeTheFinalStatusIsStored(t *testing.T) {
	run := func(t *testing.T, opts ...harnessOption) {
		h := newHarnessAt(t, clockAtStart(), false, opts...)
		log := &orderLog{}
		(&hookedStore{log: log}).hook(h.svc)
		h.svc.queue = &loggedQueue{Queue: h.svc.queue, log: log}
		h.start()
		const n = 20
		ids := make([]string, n)
		for i := range ids {
			ids[i] = h.post(map[string]any{"user_id": fmt.Sprintf("u%d", i%3), "channels": []string{"push", "email"}, "body": "b"})
		}
		for _, id := range ids {
			h.waitStatus(id, "push", Sent)
			h.waitStatus(id, "email", Sent)
		}
		eventually(t, func() bool { return queueEmpty(h) }, "the deliveries were never acked")

		stored := map[string]bool{}
		acked := 0
		for _, line := range log.snapshot() {
			what, id, _ := strings.Cut(line, " ")
			switch what {
			case "stored":
				stored[id] = true
			case "ack":
				acked++
				assert.True(t, stored[id], "%s acked before its final status was stored", id)
			}
		}
		assert.GreaterOrEqual(t, acked, 2*n, "fewer acks than deliveries")
	}
	t.Run("memory", func(t *testing.T) { run(t) })
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) { run(t, onRedis(tg.Client, tg.Prefix)) })
}

// A Shutdown that finds a finished delivery's record in flight waits for
// it and acks the delivery: nothing is lost, nothing is left to send
// again.
func TestShutdownAcksADeliveryWhoseRecordIsInFlight(t *testing.T) {
	redistest.Each(t, func(t *testing.T, tg *redistest.Target) {
		h := newHarnessAt(t, clockAtStart(), false, onRedis(tg.Client, tg.Prefix), func(c *Config) { c.Workers = 1 })
		store := newHoldingStore()
		store.hook(h.svc)
		h.start()
		id := h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
		select {
		case <-store.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the final status was never recorded")
		}

		stopped := make(chan error, 1)
		go func() { stopped <- h.svc.Shutdown(context.Background()) }()
		stays(t, func() bool { return len(stopped) == 0 }, "Shutdown returned while a record was in flight")
		close(store.release)
		select {
		case err := <-stopped:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Shutdown never returned")
		}

		next := newHarnessAt(t, clockAtStart(), false, onRedis(tg.Client, tg.Prefix))
		assert.True(t, queueEmpty(next), "the delivered job is still queued")
		next.start() // for the projection
		v := next.waitStatus(id, "push", Sent)
		assert.Equal(t, Sent, v.Channels["push"].Status)
		assert.Equal(t, 1, v.Channels["push"].Attempts)
		assert.Len(t, h.sent(), 1)
	})
}
