package saga

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
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
//
// Memory: a saga's record is one pointer-free block of 448 bytes
// (more for long data or ids), so the garbage collector does not scan
// the sagas a log retains; a busy log reuses swept records instead of
// allocating (each of its 64 shards keeps at most 256 for reuse).
type MemoryLog struct {
	now       func() time.Time
	epoch     time.Time // records keep their times as offsets from it (see memRec)
	realClock bool      // now is time.Now
	retention time.Duration
	seed      maphash.Seed
	shards    [memShards]memShard
}

const memShards = 64

// memFree is the most swept records a shard keeps for reuse.
const memFree = 256

type memKey struct{ saga, id string }

// memRec is one saga's record. It holds no pointer, and the shard's map
// holds it by a 64-bit hash of its key, so the garbage collector scans
// next to nothing of what a log retains (at a high rate, most of the
// process's heap): the record keeps its own key (saga and id, at the
// start of buf), its times as offsets from the log's epoch (a time.Time
// holds a pointer), and a log that outgrows buf moves to the shard's
// spilled map.
type memRec struct {
	status   Status
	token    int64
	expires  time.Duration // lease expiry while running, since the epoch
	finished time.Duration // when it finished, since the epoch
	hash     uint64        // of the key (see memHash)
	sagaLen  int           // the key is log[:sagaLen] and log[sagaLen:keyLen]
	keyLen   int           // and the packed entries follow it
	n        int           // entries in the log
	size     int           // bytes of the log (see memShard.log)
	spilled  bool          // the log is in the shard's spilled map, not in buf
	// collided: the record is in the shard's collided map, since another
	// key with its hash held its place in recs when it came.
	collided bool
	// The last entry's data is log[lastData:lastData+lastLen]: the log
	// compares with its own copy, never with a caller's slice, which the
	// caller may reuse once Append returns.
	lastData, lastLen int
	// dropped: deleted from the map (a record enters it once, when its
	// key has none, and leaves it once).
	dropped bool
	// life counts the sagas the record has held: a swept record is
	// reused (see memShard.free), and a hold names the life it holds.
	life uint32
	buf  [memRecBuf]byte // the key and packed entries (see appendEntry), unless spilled
}

// memRecBuf holds the key and packed log of a short saga (three steps
// and their data take about 250 bytes), so that most records never grow.
const memRecBuf = 336

// log returns r's key and packed entries; s.mu is held.
func (s *memShard) log(r *memRec) []byte {
	if r.spilled {
		return s.spilled[r]
	}
	return r.buf[:r.size]
}

// is reports whether r is the record of (saga, id); s.mu is held.
func (s *memShard) is(r *memRec, saga, id string) bool {
	k := s.log(r)
	return r.sagaLen == len(saga) && r.keyLen-r.sagaLen == len(id) &&
		string(k[:r.sagaLen]) == saga && string(k[r.sagaLen:r.keyLen]) == id
}

// key returns r's saga and id, as new strings; s.mu is held.
func (s *memShard) key(r *memRec) memKey {
	k := s.log(r)
	return memKey{string(k[:r.sagaLen]), string(k[r.sagaLen:r.keyLen])}
}

// newRec makes the record of (saga, id), hashed h, and puts it in the
// map; s.mu is held and the map has no record of the key.
func (s *memShard) newRec(h uint64, saga, id string) *memRec {
	var r *memRec
	if n := len(s.free); n > 0 {
		r, s.free[n-1], s.free = s.free[n-1], nil, s.free[:n-1]
		// Every field but buf, which is written before it is read.
		r.status, r.token, r.expires, r.finished, r.n = Running, 0, 0, 0, 0
		r.spilled, r.collided, r.lastData, r.lastLen, r.dropped = false, false, 0, 0, false
		r.life++
		r.hash, r.sagaLen, r.keyLen = h, len(saga), len(saga)+len(id)
	} else {
		r = &memRec{hash: h, sagaLen: len(saga), keyLen: len(saga) + len(id)}
	}
	log := append(append(r.buf[:0], saga...), id...)
	s.store(r, log)
	if s.recs[h] == nil {
		s.recs[h] = r
		return r
	}
	if s.collided == nil {
		s.collided = make(map[memKey]*memRec)
	}
	r.collided = true
	s.collided[memKey{saga, id}] = r
	return r
}

// find returns the record of (saga, id), hashed h, or nil; s.mu is held.
func (s *memShard) find(h uint64, saga, id string) *memRec {
	if r := s.recs[h]; r != nil && s.is(r, saga, id) {
		return r
	}
	if len(s.collided) > 0 {
		return s.collided[memKey{saga, id}]
	}
	return nil
}

// drop deletes r from the map; s.mu is held.
func (s *memShard) drop(r *memRec) {
	if r.collided {
		delete(s.collided, s.key(r))
	} else {
		delete(s.recs, r.hash)
	}
	r.dropped = true
	if r.spilled {
		delete(s.spilled, r)
	}
}

// store makes log r's log; s.mu is held.
func (s *memShard) store(r *memRec, log []byte) {
	r.size = len(log)
	if r.spilled || len(log) > len(r.buf) {
		if s.spilled == nil {
			s.spilled = make(map[*memRec][]byte)
		}
		r.spilled, s.spilled[r] = true, log
	}
}

// append packs es onto r's log; s.mu is held.
func (s *memShard) append(r *memRec, es []Entry) {
	log := s.log(r)
	for i := range es {
		d := es[i].Data
		same := r.n > 0 && bytes.Equal(d, log[r.lastData:r.lastData+r.lastLen])
		log = appendEntry(log, &es[i], same)
		if !same {
			r.lastData, r.lastLen = len(log)-len(d), len(d)
		}
		r.n++
	}
	s.store(r, log)
}

func (s *memShard) record(r *memRec, saga, id string) *Record {
	return &Record{Saga: saga, ID: id, Status: r.status, Entries: unpack(s.log(r)[r.keyLen:], r.n)}
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

type memShard struct {
	mu   sync.Mutex
	recs map[uint64]*memRec // by memHash
	// collided holds the records whose hash another key's record held
	// in recs when they came: next to never.
	collided map[memKey]*memRec
	done     []*memRec // finished sagas in the order they finished
	// free holds swept records for new sagas to reuse (at most memFree):
	// a busy log then allocates no record, and an idle one keeps few.
	free []*memRec
	// spilled holds the logs that outgrew their record's buf.
	spilled map[*memRec][]byte
	head    int      // done[:head] are swept
	_       [64]byte // keep shards' locks on separate cache lines
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
	l := &MemoryLog{now: c.now, epoch: c.now(), realClock: isTimeNow(c.now), retention: c.retention, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].recs = make(map[uint64]*memRec)
	}
	return l, nil
}

// locate returns the shard of (saga, id) and the key's hash there.
func (l *MemoryLog) locate(saga, id string) (*memShard, uint64) {
	hid := maphash.String(l.seed, id)
	h := hid ^ bits.RotateLeft64(maphash.String(l.seed, saga), 17)
	return &l.shards[hid%memShards], h
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
// and a finished record refuses writes; once swept it may be reused for
// another saga, which life tells apart, so a write through a stale hold
// never reaches another saga.
type memHold struct {
	shard *memShard
	rec   *memRec
	life  uint32 // rec's life when it was created (see memRec.life)
	key   memKey // for messages
}

// claim is Claim without the names' validation, returning the hold on a
// saga it created. at is the time by the log's clock, or zero: read it.
func (l *MemoryLog) claim(ctx context.Context, saga, id string, lease time.Duration, entries []Entry, at time.Time) (Claim, memHold, error) {
	if err := ctx.Err(); err != nil {
		return Claim{}, memHold{}, err
	}
	s, h := l.locate(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := at
	if now.IsZero() {
		now = l.now()
	}
	off := l.since(now)
	r := s.find(h, saga, id)
	if r != nil && r.status != Running && off-r.finished >= l.retention {
		s.drop(r) // past retention: forgotten, as on Redis
		r = nil
	}
	if r == nil {
		if len(entries) == 0 {
			return Claim{}, memHold{}, fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
		}
		r = s.newRec(h, saga, id)
		r.token, r.expires = 1, off+lease
		s.append(r, entries)
		if last := &entries[len(entries)-1]; last.Kind == Finished {
			l.finish(s, r, last.Status, now)
		}
		return Claim{Token: 1, Created: true}, memHold{s, r, r.life, memKey{saga, id}}, nil
	}
	if r.status != Running {
		return Claim{Record: s.record(r, saga, id)}, memHold{}, nil
	}
	if off < r.expires {
		return Claim{}, memHold{}, fmt.Errorf("%w: saga %s/%s (lease for %s more)", ErrRunning, saga, id, r.expires-off)
	}
	r.token++
	r.expires = off + lease
	return Claim{Token: r.token, Record: s.record(r, saga, id)}, memHold{}, nil
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
	case r.life != h.life:
		// Taken over, finished by the other process and swept (only a
		// finished record is swept, and the holder writes none after
		// its own Finished): the record holds another saga now.
		return fmt.Errorf("%w: saga %s/%s: taken over, finished and past its retention", ErrLeaseLost, h.key.saga, h.key.id)
	case r.token != token:
		return fmt.Errorf("%w: saga %s/%s: token %d, current %d", ErrLeaseLost, h.key.saga, h.key.id, token, r.token)
	case r.status != Running:
		return fmt.Errorf("%w: saga %s/%s is %s", ErrFinished, h.key.saga, h.key.id, r.status)
	}
	if at.IsZero() {
		at = l.now()
	}
	l.write(s, r, lease, entries, at)
	return nil
}

// since is t as an offset from the log's epoch: by the monotonic clock
// when both have a reading of it, as time.Time's own comparisons are.
func (l *MemoryLog) since(t time.Time) time.Duration { return t.Sub(l.epoch) }

// isTimeNow reports whether now is time.Now itself. Only then can two
// clocks be known to be one: two method values or closures may share code
// and read different clocks.
func isTimeNow(now func() time.Time) bool {
	return reflect.ValueOf(now).Pointer() == reflect.ValueOf(time.Now).Pointer()
}

// check finds the running saga held with token; s.mu is held.
func (s *memShard) check(h uint64, saga, id string, token int64) (*memRec, error) {
	r := s.find(h, saga, id)
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
	s, h := l.locate(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.check(h, saga, id, token)
	if err != nil {
		return err
	}
	l.write(s, r, lease, entries, l.now())
	return nil
}

// write appends entries to the running saga r and extends its lease, or
// finishes it, as of now; s.mu is held.
func (l *MemoryLog) write(s *memShard, r *memRec, lease time.Duration, entries []Entry, now time.Time) {
	s.append(r, entries)
	if n := len(entries); n > 0 && entries[n-1].Kind == Finished {
		l.finish(s, r, entries[n-1].Status, now)
		return
	}
	r.expires = l.since(now) + lease
}

// finish marks r finished and sweeps the shard's expired sagas; s.mu is
// held.
func (l *MemoryLog) finish(s *memShard, r *memRec, st Status, now time.Time) {
	at := l.since(now)
	r.status, r.finished, r.expires = st, at, 0
	s.done = append(s.done, r)
	for s.head < len(s.done) {
		d := s.done[s.head]
		if at-d.finished < l.retention {
			break
		}
		if !d.dropped { // then it is still the map's record for its key
			s.drop(d)
		}
		// Leaving done, the record leaves the log: only a hold may still
		// point at it, and a hold checks the record's life.
		if len(s.free) < memFree {
			s.free = append(s.free, d)
		}
		s.done[s.head] = nil
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
	s, h := l.locate(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.check(h, saga, id, token)
	if err != nil {
		return err
	}
	r.expires = l.since(l.now()) + lease
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
	s, h := l.locate(saga, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(h, saga, id)
	if r == nil || (r.status != Running && l.since(l.now())-r.finished >= l.retention) {
		return nil, fmt.Errorf("%w: saga %s/%s", ErrNotFound, saga, id)
	}
	return s.record(r, saga, id), nil
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
	now := l.since(l.now())
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for _, r := range s.recs {
			if len(ids) >= max {
				break
			}
			ids = s.appendAbandoned(ids, r, saga, now)
		}
		for _, r := range s.collided {
			if len(ids) >= max {
				break
			}
			ids = s.appendAbandoned(ids, r, saga, now)
		}
		s.mu.Unlock()
	}
	return ids, nil
}

// appendAbandoned appends r's id if r is a saga named saga running
// under a lease expired as of now; s.mu is held.
func (s *memShard) appendAbandoned(ids []string, r *memRec, saga string, now time.Duration) []string {
	if r.status != Running || now < r.expires {
		return ids
	}
	if k := s.log(r); string(k[:r.sagaLen]) == saga {
		ids = append(ids, string(k[r.sagaLen:r.keyLen]))
	}
	return ids
}
