package breaker

import (
	"context"
	"math"
	"sync/atomic"
)

// Store is where breakers keep a circuit they share by Name. The one
// implementation is *RedisStore (NewRedisStore), shared across a fleet;
// a nil Store keeps the circuit inside its breaker.
type Store interface {
	// attach ties b to its shared circuit: it sets b.link before b can
	// receive anything from the store.
	attach(b *Breaker, s *settings) error
}

// op is one atomic operation on a shared circuit.
type op uint8

const (
	opState   op = iota // read it
	opTrip              // closed → open, if it is closed
	opAcquire           // ask for a probe slot (open → half-open when due)
	opFinish            // a probe's outcome
)

// shared is a shared circuit's state as a store reports it.
type shared struct {
	admitted  bool  // opAcquire: the call may run
	state     State // after the operation
	epoch     int64 // the shared period; 0: the store has no state (closed)
	remaining int64 // ns: of the open period, or of the half-open lease
}

// remote runs operations on one shared circuit.
type remote interface {
	do(ctx context.Context, op op, epoch int64, o outcome) (shared, error)
}

// link is a breaker's tie to its shared circuit. The breaker keeps working
// on its local state machine; the link feeds it the fleet's decisions:
// replies to its own operations, pushes from the store, and a periodic
// re-read. While the store is unreachable (down), the breaker decides alone
// and re-reads the store once per retry interval until it answers.
type link struct {
	r        remote
	interval int64 // ns between re-reads of the shared state
	retry    int64 // ns between attempts while down
	nextSync atomic.Int64
	down     atomic.Bool
	epoch    int64 // shared period last adopted; guarded by Breaker.mu
	// pending counts local trips being reported; until they are, replies
	// and pushes of the already adopted period (read before the trip got
	// there) must not undo them. Guarded by Breaker.mu.
	pending int
}

func newLink(r remote, interval, retry int64) *link {
	l := &link{r: r, interval: interval, retry: retry}
	l.resync()
	return l
}

// resync makes the next call re-read the shared state.
func (l *link) resync() { l.nextSync.Store(math.MinInt64) }

// call runs op; a store error (not the caller's ctx ending) detaches the
// breaker until the next retry. Detaching and re-joining are reported to
// the observer by the call that saw them, outside any lock.
func (l *link) call(ctx context.Context, b *Breaker, now int64, op op, epoch int64, o outcome) (shared, error) {
	sh, err := l.r.do(ctx, op, epoch, o)
	if err != nil {
		if ctx.Err() == nil {
			b.storeErrors.Add(1)
			l.nextSync.Store(now + l.retry)
			if !l.down.Swap(true) && b.notify.on() {
				b.notify.detached(ctx, b.name, err)
			}
		}
		return sh, err
	}
	if l.down.Load() && l.down.Swap(false) && b.notify.on() { // Load first: no write on the common path
		b.notify.rejoined(ctx, b.name)
	}
	return sh, nil
}

// maybeSync re-reads the shared state when it is due: one caller per
// interval does it (one round trip), the others go on with what they know.
func (l *link) maybeSync(ctx context.Context, b *Breaker, now int64) {
	next := l.nextSync.Load()
	if now < next {
		return
	}
	if l.interval > 0 && !l.nextSync.CompareAndSwap(next, now+l.interval) {
		return
	}
	if sh, err := l.call(ctx, b, now, opState, 0, 0); err == nil {
		b.adopt(sh, now)
	}
}

// refresh re-reads the shared state now, off any call's path.
func (l *link) refresh(ctx context.Context, b *Breaker) {
	now := b.nowNS()
	if sh, err := l.call(ctx, b, now, opState, 0, 0); err == nil {
		b.adopt(sh, now)
	} else {
		l.resync()
	}
}

// reportContext is for telling the store the outcome of a call that has
// run: the caller's cancellation must not lose it for the fleet (the
// store's own timeout still bounds it).
func reportContext(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
