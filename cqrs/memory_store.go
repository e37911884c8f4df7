package cqrs

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memChunk is how many events one chunk of MemoryStore's log holds: the
// log grows by chunks, so it never copies what it holds already.
const memChunk = 4096

// MemoryStore is an EventStore in the process's memory: for tests, for
// one-process tools, and as the reference the Redis store is tested
// against. It keeps every event for its lifetime; nothing survives a
// restart.
//
// Appends take one lock, so the global order is the order in which
// appends took it. Events it returns share Data with the store (do not
// modify it) and have Metadata maps of their own.
type MemoryStore struct {
	mu      sync.RWMutex
	chunks  [][]Event // position p is chunks[(p-1)/memChunk][(p-1)%memChunk]
	head    int64
	streams map[string]*memStream
	wake    chan struct{} // closed by the next append; nil when no one waits
	now     func() time.Time
	stats   storeStats
}

type memStream struct {
	pos []int64          // pos[v-1] is the position of version v
	ids map[string]int64 // event id -> version
}

var (
	_ EventStore = (*MemoryStore)(nil)
	_ Waiter     = (*MemoryStore)(nil)
	_ Header     = (*MemoryStore)(nil)

	_ PositionAppender = (*MemoryStore)(nil)
	_ BatchAppender    = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty in-memory event store. It takes no
// options and cannot fail, so unlike the other constructors it returns no
// error: this signature is fixed by the module's design contract, which
// the examples and case studies build on.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{streams: make(map[string]*memStream), now: time.Now}
}

func (s *MemoryStore) at(p int64) *Event {
	i := p - 1
	return &s.chunks[i/memChunk][i%memChunk]
}

// Append implements EventStore.
func (s *MemoryStore) Append(ctx context.Context, streamID string, expected int64, events ...Event) (int64, error) {
	a, err := s.AppendWithPosition(ctx, streamID, expected, events...)
	return a.Version, err
}

// AppendWithPosition implements PositionAppender.
func (s *MemoryStore) AppendWithPosition(ctx context.Context, streamID string, expected int64, events ...Event) (Appended, error) {
	a, err := s.append(ctx, streamID, expected, events)
	s.stats.count(len(events), err)
	return a, err
}

func (s *MemoryStore) append(ctx context.Context, streamID string, expected int64, events []Event) (Appended, error) {
	if err := ctx.Err(); err != nil {
		return Appended{}, err
	}
	if err := checkAppend(streamID, expected, events); err != nil {
		return Appended{}, err
	}
	var buf [1]Event
	evs := copyEvents(buf[:0], streamID, events)
	now := s.now().Round(0)

	s.mu.Lock()
	defer s.mu.Unlock()
	return s.appendLocked(streamID, expected, evs, now)
}

// copyEvents appends to dst copies of events, for stream streamID, that
// the caller cannot change later (made outside the lock).
func copyEvents(dst []Event, streamID string, events []Event) []Event {
	if len(events) > cap(dst)-len(dst) {
		dst = append(make([]Event, 0, len(dst)+len(events)), dst...)
	}
	for i := range events {
		e := events[i]
		e.StreamID = streamID
		if e.Data != nil {
			e.Data = append([]byte(nil), e.Data...)
		}
		e.Metadata = cloneMeta(e.Metadata)
		dst = append(dst, e)
	}
	return dst
}

// appendLocked appends evs (checked copies) to the stream; s.mu is held.
func (s *MemoryStore) appendLocked(streamID string, expected int64, evs []Event, now time.Time) (Appended, error) {
	st := s.streams[streamID]
	var cur int64
	if st != nil {
		cur = int64(len(st.pos))
		if v, ok := st.retry(expected, evs); ok {
			return Appended{Version: v, Position: st.pos[v-1]}, nil
		}
	}
	if !versionOK(expected, cur) {
		return Appended{}, &ConflictError{StreamID: streamID, Expected: expected, Actual: cur}
	}
	if st != nil && st.ids != nil {
		for i := range evs {
			if id := evs[i].ID(); id != "" {
				if _, dup := st.ids[id]; dup {
					return Appended{}, fmt.Errorf("%w: %q in stream %q", ErrDuplicateEventID, id, streamID)
				}
			}
		}
	}
	if len(evs) == 0 {
		if cur == 0 {
			return Appended{}, nil
		}
		return Appended{Version: cur, Position: st.pos[cur-1]}, nil
	}
	if st == nil {
		st = &memStream{}
		s.streams[streamID] = st
	}
	for i := range evs {
		e := &evs[i]
		s.head++
		cur++
		e.Version, e.Position, e.RecordedAt = cur, s.head, now
		if (s.head-1)%memChunk == 0 {
			s.chunks = append(s.chunks, make([]Event, 0, memChunk))
		}
		last := len(s.chunks) - 1
		s.chunks[last] = append(s.chunks[last], *e)
		st.pos = append(st.pos, s.head)
		if id := e.ID(); id != "" {
			if st.ids == nil {
				st.ids = make(map[string]int64)
			}
			st.ids[id] = cur
		}
	}
	if s.wake != nil {
		close(s.wake)
		s.wake = nil
	}
	return Appended{Version: cur, Position: s.head}, nil
}

// AppendBatch implements BatchAppender: the whole batch under one lock,
// so no other append interleaves with it (see the function AppendBatch).
func (s *MemoryStore) AppendBatch(ctx context.Context, batch []StreamAppend) ([]AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]AppendResult, len(batch))
	copies := make([][]Event, len(batch))
	total := 0
	for i := range batch {
		total += len(batch[i].Events)
	}
	all := make([]Event, 0, total) // one allocation for every item's copies
	for i := range batch {
		it := &batch[i]
		if out[i].Err = checkAppend(it.StreamID, it.ExpectedVersion, it.Events); out[i].Err != nil {
			continue
		}
		n := len(all)
		all = copyEvents(all, it.StreamID, it.Events)
		copies[i] = all[n:len(all):len(all)]
	}
	now := s.now().Round(0)

	s.mu.Lock()
	for i := range batch {
		if out[i].Err == nil {
			out[i].Appended, out[i].Err = s.appendLocked(batch[i].StreamID, batch[i].ExpectedVersion, copies[i], now)
		}
	}
	s.mu.Unlock()
	for i := range out {
		s.stats.count(len(batch[i].Events), out[i].Err)
	}
	return out, nil
}

// retry reports whether evs is an exact retry of an earlier append (see
// EventStore.Append) and, if so, the version of its last event.
func (st *memStream) retry(expected int64, evs []Event) (int64, bool) {
	if len(evs) == 0 || st.ids == nil {
		return 0, false
	}
	first, ok := st.ids[evs[0].ID()]
	if !ok || evs[0].ID() == "" || !retryOK(expected, first) {
		return 0, false
	}
	for i := 1; i < len(evs); i++ {
		id := evs[i].ID()
		if v, ok := st.ids[id]; id == "" || !ok || v != first+int64(i) {
			return 0, false
		}
	}
	return first + int64(len(evs)) - 1, true
}

// Load implements EventStore.
func (s *MemoryStore) Load(ctx context.Context, streamID string, fromVersion int64) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if streamID == "" {
		return nil, fmt.Errorf("%w: empty stream id", ErrInvalidArgument)
	}
	if fromVersion < 1 {
		fromVersion = 1
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.streams[streamID]
	if st == nil || fromVersion > int64(len(st.pos)) {
		return nil, nil
	}
	pos := st.pos[fromVersion-1:]
	out := make([]Event, len(pos))
	for i, p := range pos {
		out[i] = *s.at(p)
		out[i].Metadata = cloneMeta(out[i].Metadata)
	}
	return out, nil
}

// ReadAll implements EventStore.
func (s *MemoryStore) ReadAll(ctx context.Context, fromPosition int64, limit int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if fromPosition < 1 {
		fromPosition = 1
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if fromPosition > s.head {
		return nil, nil
	}
	n := s.head - fromPosition + 1
	if n > int64(limit) {
		n = int64(limit)
	}
	out := make([]Event, 0, n)
	for p := fromPosition; p < fromPosition+n; {
		i := p - 1
		chunk := s.chunks[i/memChunk]
		j := int(i % memChunk)
		k := min(len(chunk), j+int(fromPosition+n-p))
		out = append(out, chunk[j:k]...)
		p += int64(k - j)
	}
	for i := range out {
		out[i].Metadata = cloneMeta(out[i].Metadata)
	}
	return out, nil
}

// Head implements Header.
func (s *MemoryStore) Head(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head, nil
}

// Wait implements Waiter: it returns as soon as an event after position
// after is appended.
func (s *MemoryStore) Wait(ctx context.Context, after int64) error {
	s.mu.Lock()
	if s.head > after {
		s.mu.Unlock()
		return nil
	}
	if s.wake == nil {
		s.wake = make(chan struct{})
	}
	ch := s.wake
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
