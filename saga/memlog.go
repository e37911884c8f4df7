package saga

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"reflect"
	"sync"
	"time"
)

// MemoryLog is a Log in the process's memory: fast, and gone with the
// process. It suits tests, and sagas whose only need is orderly
// compensation within one process; a crash loses what it knew, so only a
// shared, durable log (RedisLog) lets another process recover.
//
// Leases work as on Redis, by the log's clock (WithClock), so two Saga
// values on one MemoryLog behave like two processes. Finished sagas are
// dropped after the retention period (WithRetention) by a sweep that runs
// inline, when sagas finish.
type MemoryLog struct {
	now       func() time.Time
	realClock bool // now is time.Now
	retention time.Duration
	seed      maphash.Seed
	shards    [memShards]memShard
}

const memShards = 64

type memKey struct{ saga, id string }

type memRec struct {
	status   Status
	token    int64
	expires  time.Time // lease expiry while running
	finished time.Time // when it finished
	n        int       // entries in log
	log      []byte    // the entries, packed (see appendEntry)
	// The last entry's data is log[lastData:lastData+lastLen]: the log
	// compares with its own copy, never with a caller's slice, which the
	// caller may reuse once Append returns.
	lastData, lastLen int
	// dropped: deleted from the map (a record enters it once, when its
	// key has none, and leaves it once).
	dropped bool
	buf     [memRecBuf]byte // log's first backing array: a record is one allocation
}

// memRecBuf holds the packed log of a short saga (three steps and their
// data take about 250 bytes), so that most records never grow.
const memRecBuf = 320

func (r *memRec) append(es []Entry) {
	for i := range es {
		d := es[i].Data
		same := r.n > 0 && bytes.Equal(d, r.log[r.lastData:r.lastData+r.lastLen])
		r.log = appendEntry(r.log, &es[i], same)
		if !same {
			r.lastData, r.lastLen = len(r.log)-len(d), len(d)
		}
		r.n++
	}
}

func (r *memRec) record(saga, id string) *Record {
	return &Record{Saga: saga, ID: id, Status: r.status, Entries: unpack(r.log, r.n)}
}

// appendEntry packs e onto b. The log keeps its entries so, in one
// pointer-free buffer: a log holding many sagas then costs the garbage
// collector next to nothing. An entry whose data is the previous entry's
// (sameData) refers to it.
func appendEntry(b []byte, e *Entry, sameData bool) []byte {
	b = append(b, byte(e.Kind), byte(e.Status))
	b = binary.AppendVarint(b, int64(e.Step))
	b = binary.AppendVarint(b, int64(e.Attempts))
	b = binary.AppendVarint(b, int64(e.Duration))
	b = binary.AppendVarint(b, e.At.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(e.StepName)))
	b = append(b, e.StepName...)
	b = binary.AppendUvarint(b, uint64(len(e.Err)))
	b = append(b, e.Err...)
	b = binary.AppendUvarint(b, uint64(len(e.Metadata)))
	for k, v := range e.Metadata {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	if sameData {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(e.Data))+1)
	return append(b, e.Data...)
}

// unpack decodes the n entries packed in b; their Data are copies.
func unpack(b []byte, n int) []Entry {
	uv := func() uint64 { v, k := binary.Uvarint(b); b = b[k:]; return v }
	sv := func() int64 { v, k := binary.Varint(b); b = b[k:]; return v }
	bs := func(n uint64) []byte { v := b[:n:n]; b = b[n:]; return v }
	es := make([]Entry, n)
	var prev []byte
	for i := range es {
		e := &es[i]
		e.Kind, e.Status = EntryKind(b[0]), Status(b[1])
		b = b[2:]
		e.Step, e.Attempts = int(sv()), int(sv())
		e.Duration, e.At = time.Duration(sv()), time.Unix(0, sv())
		e.StepName = string(bs(uv()))
		e.Err = string(bs(uv()))
		if n := uv(); n > 0 {
			e.Metadata = make(map[string]string, n)
			for range n {
				k := string(bs(uv()))
				e.Metadata[k] = string(bs(uv()))
			}
		}
		if k := uv(); k == 0 {
			e.Data = prev
		} else {
			e.Data = bytes.Clone(bs(k - 1))
		}
		prev = e.Data
	}
	return es
}

// memDone is a finished saga, for the sweep to drop after the retention.
type memDone struct {
	key memKey
	rec *memRec
}

type memShard struct {
	mu   sync.Mutex
	recs map[memKey]*memRec
	done []memDone // finished sagas in the order they finished
	head int       // done[:head] are swept
	_    [64]byte  // keep shards' locks on separate cache lines
}

var _ Log = (*MemoryLog)(nil)

// NewMemoryLog returns an empty in-memory log. Options: WithClock,
// WithRetention (default DefaultMemoryRetention). Errors wrap
// ErrInvalidConfig.
func NewMemoryLog(opts ...MemoryLogOption) (*MemoryLog, error) {
	c, err := applyMemoryLogOptions(opts)
	if err != nil {
		return nil, err
	}
	l := &MemoryLog{now: c.now, realClock: isTimeNow(c.now), retention: c.retention, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].recs = make(map[memKey]*memRec)
	}
	return l, nil
}

func (l *MemoryLog) shard(_, id string) *memShard {
	return &l.shards[maphash.String(l.seed, id)%memShards]
}

// Claim implements Log.
func (l *MemoryLog) Claim(ctx context.Context, saga, id string, lease time.Duration, entries []Entry) (Claim, error) {
	if err := checkLogKey(saga, id); err != nil {
		return Claim{}, err
	}
	c, _, err := l.claim(ctx, saga, id, lease, entries, time.Time{})
	return c, err
}

// memHold is a Saga's hold on a saga it created in its MemoryLog: the
// record itself, so that its writes need no map lookup and no second
// validation of the names. A record leaves the map only once finished,
// and a finished record refuses writes, so the pointer never outlives
// the saga it holds.
type memHold struct {
	shard *memShard
	rec   *memRec
	key   memKey
}

// claim is Claim without the names' validation, returning the hold on a
// saga it created. at is the time by the log's clock, or zero: read it.
func (l *MemoryLog) claim(ctx context.Context, saga, id string, lease time.Duration, entries []Entry, at time.Time) (Claim, memHold, error) {
	if err := ctx.Err(); err != nil {
		return Claim{}, memHold{}, err
	}
	k := memKey{saga, id}
	s := l.shard(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := at
	if now.IsZero() {
		now = l.now()
	}
	r := s.recs[k]
	if r != nil && r.status != Running && now.Sub(r.finished) >= l.retention {
		delete(s.recs, k) // past retention: forgotten, as on Redis
		r.dropped = true
		r = nil
	}
	if r == nil {
		if len(entries) == 0 {
			return Claim{}, memHold{}, fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
		}
		r = &memRec{token: 1, expires: now.Add(lease)}
		r.log = r.buf[:0]
		r.append(entries)
		s.recs[k] = r
		if last := &entries[len(entries)-1]; last.Kind == Finished {
			l.finish(s, k, r, last.Status, now)
		}
		return Claim{Token: 1, Created: true}, memHold{s, r, k}, nil
	}
	if r.status != Running {
		return Claim{Record: r.record(saga, id)}, memHold{}, nil
	}
	if now.Before(r.expires) {
		return Claim{}, memHold{}, fmt.Errorf("%w: saga %s/%s (lease for %s more)", ErrRunning, saga, id, r.expires.Sub(now))
	}
	r.token++
	r.expires = now.Add(lease)
	return Claim{Token: r.token, Record: r.record(saga, id)}, memHold{}, nil
}

// appendHeld is Append to a held saga: the same checks, in the same
// order, on the record itself. at is as for claim.
func (l *MemoryLog) appendHeld(ctx context.Context, h memHold, token int64, lease time.Duration, entries []Entry, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, r := h.shard, h.rec
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.token != token:
		return fmt.Errorf("%w: saga %s/%s: token %d, current %d", ErrLeaseLost, h.key.saga, h.key.id, token, r.token)
	case r.status != Running:
		return fmt.Errorf("%w: saga %s/%s is %s", ErrFinished, h.key.saga, h.key.id, r.status)
	}
	if at.IsZero() {
		at = l.now()
	}
	l.write(s, h.key, r, lease, entries, at)
	return nil
}

// isTimeNow reports whether now is time.Now itself. Only then can two
// clocks be known to be one: two method values or closures may share code
// and read different clocks.
func isTimeNow(now func() time.Time) bool {
	return reflect.ValueOf(now).Pointer() == reflect.ValueOf(time.Now).Pointer()
}

// check finds the running saga held with token; s.mu is held.
func (s *memShard) check(saga, id string, token int64) (*memRec, error) {
	r := s.recs[memKey{saga, id}]
	switch {
	case r == nil:
		return nil, fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
	case r.token != token:
		return nil, fmt.Errorf("%w: saga %s/%s: token %d, current %d", ErrLeaseLost, saga, id, token, r.token)
	case r.status != Running:
		return nil, fmt.Errorf("%w: saga %s/%s is %s", ErrFinished, saga, id, r.status)
	}
	return r, nil
}

// Append implements Log.
func (l *MemoryLog) Append(ctx context.Context, saga, id string, token int64, lease time.Duration, entries []Entry) error {
	if err := checkLogKey(saga, id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := l.shard(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.check(saga, id, token)
	if err != nil {
		return err
	}
	l.write(s, memKey{saga, id}, r, lease, entries, l.now())
	return nil
}

// write appends entries to the running saga r and extends its lease, or
// finishes it, as of now; s.mu is held.
func (l *MemoryLog) write(s *memShard, k memKey, r *memRec, lease time.Duration, entries []Entry, now time.Time) {
	r.append(entries)
	if n := len(entries); n > 0 && entries[n-1].Kind == Finished {
		l.finish(s, k, r, entries[n-1].Status, now)
		return
	}
	r.expires = now.Add(lease)
}

// finish marks r finished and sweeps the shard's expired sagas; s.mu is
// held.
func (l *MemoryLog) finish(s *memShard, k memKey, r *memRec, st Status, now time.Time) {
	r.status, r.finished, r.expires = st, now, time.Time{}
	s.done = append(s.done, memDone{k, r})
	for s.head < len(s.done) {
		d := s.done[s.head]
		if now.Sub(d.rec.finished) < l.retention {
			break
		}
		if !d.rec.dropped { // then it is still the map's record for its key
			delete(s.recs, d.key)
			d.rec.dropped = true
		}
		s.done[s.head] = memDone{}
		s.head++
	}
	if s.head > 1024 && s.head*2 > len(s.done) {
		s.done = append(s.done[:0], s.done[s.head:]...)
		s.head = 0
	}
}

// Renew implements Log.
func (l *MemoryLog) Renew(ctx context.Context, saga, id string, token int64, lease time.Duration) error {
	if err := checkLogKey(saga, id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := l.shard(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.check(saga, id, token)
	if err != nil {
		return err
	}
	r.expires = l.now().Add(lease)
	return nil
}

// Load implements Log.
func (l *MemoryLog) Load(ctx context.Context, saga, id string) (*Record, error) {
	if err := checkLogKey(saga, id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := l.shard(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[memKey{saga, id}]
	if r == nil || (r.status != Running && l.now().Sub(r.finished) >= l.retention) {
		return nil, fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
	}
	return r.record(saga, id), nil
}

// Abandoned implements Log.
func (l *MemoryLog) Abandoned(ctx context.Context, saga string, max int) ([]string, error) {
	if err := checkSagaName(saga); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ids []string
	now := l.now()
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, r := range s.recs {
			if len(ids) >= max {
				break
			}
			if r.status == Running && k.saga == saga && !now.Before(r.expires) {
				ids = append(ids, k.id)
			}
		}
		s.mu.Unlock()
	}
	return ids, nil
}
