package pubsub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/internal/redisx"
)

// redisSub is one subscription's consumer: a reader goroutine that feeds
// entries to the workers (its own pending ones first, then new ones, and
// now and then those reclaimed from dead consumers), the workers, an ack
// goroutine and a heartbeat goroutine.
//
// An entry is held (in held, heartbeated) from the moment a read or claim
// returns it until it is acknowledged, dead-lettered, handed back or
// dropped: while it waits for a free worker, while a handler runs, while
// the worker backs off, and while its XACK is queued. So no entry of a
// live consumer is reclaimed by another, however long it waits or runs,
// and its own reclaim passes never take an entry it holds (see claim).
type redisSub struct {
	b         *Redis
	pattern   string
	group     string
	stream    string
	lease     string // the lease key of an ephemeral group
	consumer  string
	ephemeral bool
	loop      loop

	// ctx is the handlers' and every Redis call's; it is cancelled when
	// draining ran out of time, so that nothing outlives Shutdown's
	// deadline. A read under way at stop is left to finish by itself
	// (within the read block) until then: given up on, it would still take
	// entries on the server, to be redelivered only after the visibility
	// timeout.
	ctx     context.Context
	cancel  context.CancelFunc
	stopCtx context.Context // ends when the subscription begins to stop
	stopFn  context.CancelFunc
	stop    <-chan struct{} // stopCtx.Done(): stop reading
	drained chan struct{}   // closed once the workers ended and their acks were sent
	work    chan entry      // up to a read's batch, so that the reader hands it over without waiting
	acks    chan string
	wg      sync.WaitGroup // every goroutine
	wwg     sync.WaitGroup // the workers
	ended   bool           // guarded by Redis.mu

	// stopFollowingCtx stops the Subscribe context from ending the
	// subscription (guarded by Redis.mu); finished is closed once that end
	// has run.
	stopFollowingCtx func() bool
	endedByCtx       bool // guarded by Redis.mu
	finished         chan struct{}

	bound atomic.Pointer[regVersion] // the registry version the group was last bound at

	mu sync.Mutex
	// held: the entries this consumer holds; true while one is being
	// handed back (held, so that no reclaim pass of this consumer takes
	// it, but no longer heartbeated).
	held map[string]bool
}

// entry is a stream entry a consumer holds. Its fields come either as a
// flat field/value list (a raw or scripted reply) or as a map (a typed
// XREADGROUP reply).
// maxQueuedEntries caps the entries a consumer queues for its workers
// (up to a read's batch): the queue lets the reader hand a read over
// without a goroutine switch per entry, and is allocated whole.
const maxQueuedEntries = 256

type entry struct {
	id      string
	fields  []any
	values  map[string]any
	attempt int
}

// field returns the entry's field k.
func (e *entry) field(k string) (string, bool) {
	if e.values != nil {
		v, _ := e.values[k].(string)
		_, ok := e.values[k]
		return v, ok
	}
	for i := 0; i+1 < len(e.fields); i += 2 {
		if f, _ := e.fields[i].(string); f == k {
			v, ok := e.fields[i+1].(string)
			return v, ok
		}
	}
	return "", false
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newRedisSub(b *Redis, pattern string, h Handler, sc subConfig) *redisSub {
	s := &redisSub{b: b, pattern: pattern, group: sc.group, consumer: sc.consumer,
		drained: make(chan struct{}), work: make(chan entry, min(b.cfg.batch, maxQueuedEntries)), finished: make(chan struct{}),
		acks: make(chan string, 256), held: make(map[string]bool), stopFollowingCtx: func() bool { return false }}
	if s.group == "" {
		s.group, s.ephemeral = "~"+randHex(8), true
	}
	if s.consumer == "" {
		s.consumer = b.hostName + "-" + randHex(4)
	}
	s.stream, s.lease = b.streamKey(s.group), b.leaseKey(s.group)
	s.stopCtx, s.stopFn = context.WithCancel(context.Background())
	s.stop = s.stopCtx.Done()
	s.ctx, s.cancel = handlerContext(s.stop)
	s.loop = loop{h: h, d: sc.delivery, group: s.name(), stats: &b.stats, hooks: &b.cfg.hooks, ctx: s.ctx, stopping: s.stop}
	return s
}

// name is the group, or a plain subscription's pattern: what events and
// dead letters call it.
func (s *redisSub) name() string {
	if s.ephemeral {
		return s.pattern
	}
	return s.group
}

// heartbeatEvery is how often live consumers touch their entries and
// leases; leaseFor is how long an ephemeral group outlives its last
// heartbeat.
func (s *redisSub) heartbeatEvery() time.Duration { return min(s.b.cfg.visibility/3, 10*time.Second) }
func (s *redisSub) leaseFor() time.Duration       { return 3 * s.heartbeatEvery() }
func (s *redisSub) reclaimEvery() time.Duration   { return min(s.b.cfg.visibility/2, time.Second) }

// leaseArg is the lease in ms for the scripts, empty for a durable group.
func (s *redisSub) leaseArg() string {
	if !s.ephemeral {
		return ""
	}
	return strconv.FormatInt(s.leaseFor().Milliseconds(), 10)
}

func (s *redisSub) boundAt() regVersion {
	if v := s.bound.Load(); v != nil {
		return *v
	}
	return regVersion{}
}

// Outcomes of bind.lua.
const (
	bindElsewhere = 0 // the group is bound to another pattern
	bindOK        = 1
	bindDeleted   = 2 // rebinding a group that DeleteGroup removed
)

type bindResult struct {
	status  int64
	pattern string // bindElsewhere: the group's pattern
	created bool   // bindOK: this call created the binding or consumer group
}

// bind binds the group (see lua/bind.lua): Subscribe with epoch "", a
// running member whose group vanished with the epoch it was bound in.
func (s *redisSub) bind(ctx context.Context, epoch string) (bindResult, error) {
	b := s.b
	keys := []string{b.regKey, b.verKey, s.stream, b.ephKey, s.lease}
	args := []any{s.group, s.pattern, s.leaseArg(), epoch, randHex(8)}
	res, err := b.bound().Eval(ctx, b.client, bindScript, keys, args, nil).Slice()
	if err != nil {
		return bindResult{}, err
	}
	if len(res) < 2 {
		return bindResult{}, errors.New("pubsub: malformed bind reply")
	}
	status, err := redisx.Int64(res[0])
	if err != nil {
		return bindResult{}, err
	}
	r := bindResult{status: status}
	switch status {
	case bindElsewhere:
		r.pattern, _ = res[1].(string)
	case bindOK:
		version, _ := res[1].(string)
		v := parseVersion(version)
		s.bound.Store(&v)
		if len(res) > 2 {
			n, _ := redisx.Int64(res[2])
			r.created = n == 1
		}
	}
	return r, nil
}

// rebind binds the group again after it vanished while this subscription
// ran: Redis lost its data, or (ephemeral) reaped it while this process
// was cut off. A durable group that DeleteGroup removed stays deleted (its
// members idle until a Subscribe binds it again).
func (s *redisSub) rebind(ctx context.Context) {
	epoch := ""
	if !s.ephemeral {
		epoch = s.boundAt().epoch
	}
	r, err := s.bind(ctx, epoch)
	if err != nil {
		s.b.stats.errors.Add(1)
		return
	}
	if r.status == bindOK && r.created {
		s.b.stats.rebinds.Add(1)
		s.b.cfg.emit(Event{Kind: EventRebound, Group: s.name()})
	}
}

func (s *redisSub) start() {
	workers := s.loop.d.workers
	s.wg.Add(3 + workers)
	s.wwg.Add(workers)
	go s.read()
	go s.heartbeat()
	go s.ack()
	for range workers {
		go s.worker()
	}
}

func (s *redisSub) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// unbind removes an ephemeral group, or this consumer from a durable group
// if it holds nothing, within ctx and the bus's timeout.
func (s *redisSub) unbind(ctx context.Context) error {
	b := s.b
	var err error
	if s.ephemeral {
		keys := []string{b.regKey, b.verKey, s.stream, b.ephKey, s.lease}
		err = b.bound().Eval(ctx, b.client, unbindScript, keys, []any{s.group, randHex(8)}, nil).Err()
	} else {
		err = b.bound().Eval(ctx, b.client, leaveScript, []string{s.stream}, []any{s.group, s.consumer}, nil).Err()
	}
	if err != nil {
		b.stats.errors.Add(1)
		return fmt.Errorf("pubsub: unbinding %s: %w", s.group, err)
	}
	return nil
}

// endWith ends the subscription when ctx ends.
func (s *redisSub) endWith(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() { _ = s.end(true) })
	s.b.mu.Lock()
	s.stopFollowingCtx = stop
	s.b.mu.Unlock()
}

// Unsubscribe implements Subscription: it stops reading at once, waits for
// in-flight handlers for at most the drain timeout (then cancels them),
// and unbinds, all within the drain timeout (see Redis.Shutdown). After
// the end of the context given to Subscribe it waits for that end to
// finish and returns nil.
func (s *redisSub) Unsubscribe() error { return s.end(false) }

// end stops s: by Unsubscribe, or (byCtx) by the end of its Subscribe
// context.
func (s *redisSub) end(byCtx bool) error {
	b := s.b
	b.mu.Lock()
	if s.ended {
		endedByCtx := s.endedByCtx
		b.mu.Unlock()
		if endedByCtx && !byCtx {
			<-s.finished
			return nil
		}
		return ErrClosed
	}
	s.ended, s.endedByCtx = true, byCtx
	delete(b.subs, s)
	b.local.remove(s.pattern, s)
	stopFollowing := s.stopFollowingCtx
	b.mu.Unlock()
	defer close(s.finished)
	stopFollowing()
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.drainTimeout)
	defer cancel()
	return stopRedisSubs(ctx, []*redisSub{s})
}
