package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

// Defaults.
const (
	// DefaultPrefix is the key prefix of what analytics writes in Redis.
	DefaultPrefix = "urlshortener:analytics:"
	// DefaultBufferSize is how many recorded clicks may wait for a
	// publisher; past it Record drops clicks (ErrOverloaded) at once.
	DefaultBufferSize = 8192
	// DefaultPublishers is how many goroutines batch and publish buffered
	// clicks (see DefaultBatchSize).
	DefaultPublishers = 4
	// DefaultPublishPatience is how long a batch's publish is retried
	// (with backoff) before its clicks are dropped, counted in
	// Counters.Lost and logged: long enough to ride out a Redis failover or restart,
	// while the buffer absorbs the clicks meanwhile.
	DefaultPublishPatience = 10 * time.Second
	// StoreAttempts is how many deliveries a batch gets to be stored
	// (pubsub.WithMaxAttempts) before the bus dead-letters it.
	StoreAttempts = pubsub.DefaultMaxAttempts
	// DefaultConsumers is how many handlers append batches to the store
	// concurrently (pubsub.WithWorkers): click order does not matter.
	DefaultConsumers = 4
	// Group is the bus group whose members append clicks to the store. On
	// Redis it is durable: clicks published while no instance consumes
	// wait in Redis.
	Group = "urlshortener-analytics"
	// ModelName names the read model (and its checkpoint).
	ModelName = "urlshortener-clicks"
)

// Config configures an Analytics. Bus and Store are required.
type Config struct {
	// Bus carries clicks from Record to the consumers that store them.
	// With a *pubsub.Redis bus the consumers form a durable group: no
	// published click is lost across crashes and restarts.
	Bus pubsub.Bus
	// Store receives the click events (the store the links' lifecycle
	// uses too: the projection skips events that are not clicks).
	Store cqrs.EventStore
	// Redis, when set, keeps the read model and its checkpoint in Redis,
	// shared by every instance; nil keeps them in memory, rebuilt from the
	// store's history at each start.
	Redis redis.UniversalClient
	// Prefix is the key prefix of the read model in Redis (default
	// DefaultPrefix); it must not contain braces.
	Prefix string
	// Clock is the time source for clicks without a time and for the
	// 48-hour window of Stats (default time.Now).
	Clock func() time.Time
	// Logger logs the Events (at Warn) and the projection's failures
	// (nil: nothing is logged).
	Logger *slog.Logger
	// Observer, when set, is called with every Event, on the goroutine
	// where it happened (a Record's, a publisher's, a consumer's): keep it
	// quick, and do not call Close from it.
	Observer func(Event)
	// Browsers turns on the per-browser statistic from the start (see
	// EnableBrowsers).
	Browsers bool
	// Reset, when set, is shown every event of the store that is not a
	// click and says whether it ends a code's statistics: the shortener
	// resets a code when its link is created (an alias reused after a
	// delete starts from zero, not from the old link's clicks) and when it
	// is deleted (the read model does not keep the clicks of links that
	// are gone). It runs in the projection, on every replay too: it must be
	// a pure function of the event. nil: statistics are never reset.
	Reset func(e cqrs.Event) (code string, reset bool)
}

// Analytics records clicks and answers their statistics. Safe for
// concurrent use.
type Analytics struct {
	bus     pubsub.Bus
	store   cqrs.EventStore
	model   readModel
	runner  *cqrs.Runner
	now     func() time.Time
	log     *slog.Logger
	observe func(Event)
	// overloadLogged is when Overloaded was last logged (UnixNano).
	overloadLogged atomic.Int64
	browsers       *atomic.Bool
	// inProcess: the bus loses what it holds when the process stops, so
	// Close waits for the consumers to empty it.
	inProcess bool

	buf       chan Click
	seen      *seenIDs
	recordMu  sync.RWMutex // Record sends under R; Close closes buf under W
	recClosed bool         // guarded by recordMu
	counters  counters
	mu        sync.Mutex // guards the lifecycle below
	started   bool
	closing   bool
	sub       pubsub.Subscription
	stop      context.CancelFunc // cancels publishers and the runner
	pubDone   sync.WaitGroup
	runDone   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and returns an Analytics; Start starts it. It makes no
// network call.
func New(cfg Config) (*Analytics, error) {
	if cfg.Bus == nil {
		return nil, fmt.Errorf("%w: Bus is nil", ErrInvalidConfig)
	}
	if cfg.Store == nil {
		return nil, fmt.Errorf("%w: Store is nil", ErrInvalidConfig)
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("%w: Prefix %q contains a brace", ErrInvalidConfig, prefix)
	}
	a := &Analytics{
		bus:      cfg.Bus,
		store:    cfg.Store,
		now:      cfg.Clock,
		log:      cfg.Logger,
		observe:  cfg.Observer,
		browsers: new(atomic.Bool),
		buf:      make(chan Click, DefaultBufferSize),
		seen:     newSeenIDs(),
		runDone:  make(chan struct{}),
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.New(discard{})
	}
	a.browsers.Store(cfg.Browsers)
	_, durable := cfg.Bus.(*pubsub.Redis)
	a.inProcess = !durable
	h := projector{browsers: a.browsers, reset: cfg.Reset}.apply
	var err error
	if cfg.Redis != nil {
		a.model, err = cqrs.NewRedisReadModel[linkStats](cfg.Redis, ModelName, h, cqrs.WithPrefix(prefix))
	} else {
		a.model, err = cqrs.NewMemoryReadModel[linkStats](ModelName, h)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	a.runner, err = cqrs.NewRunner(cfg.Store, a.model, cqrs.WithLogger(cfg.Logger))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return a, nil
}

// Start joins the consumer group on the bus, starts the publishers and
// the projection, and returns once they run; they run until Close, however
// soon ctx ends after Start returns. Clicks recorded before Start
// wait in the buffer. A second Start is ErrStarted.
func (a *Analytics) Start(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.closing:
		return ErrClosed
	case a.started:
		return ErrStarted
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The subscription lives until Close, not as long as ctx: a bus ends a
	// subscription when the ctx given to Subscribe is done, and callers
	// bound Start with a timeout.
	runCtx, stop := context.WithCancel(context.Background())
	sub, err := a.bus.Subscribe(runCtx, TopicPrefix+"*", a.consume,
		pubsub.WithGroup(Group), pubsub.WithWorkers(DefaultConsumers), pubsub.WithMaxAttempts(StoreAttempts))
	if err != nil {
		stop()
		return fmt.Errorf("analytics: subscribing to clicks: %w", err)
	}
	a.sub, a.stop, a.started = sub, stop, true
	for range DefaultPublishers {
		a.pubDone.Add(1)
		go a.publishLoop(runCtx)
	}
	go func() {
		defer close(a.runDone)
		if err := a.runner.Run(runCtx); err != nil {
			a.log.Error("analytics: projection stopped", "err", err)
		}
	}()
	return nil
}

// Lag returns how many clicks are on their way to the statistics: those
// recorded here and not yet published, on an in-process bus those
// published and not yet stored, plus the events in the store the
// projection has not applied yet. (On a Redis bus, clicks waiting in the
// group's stream are not counted: any instance may be about to take them.)
//
// A store that cannot tell its head (not a cqrs.Header) adds nothing for
// the projection.
func (a *Analytics) Lag(ctx context.Context) (int64, error) {
	var lag int64
	if _, ok := a.store.(cqrs.Header); ok {
		var err error
		if lag, err = a.runner.Lag(ctx); err != nil {
			return 0, fmt.Errorf("analytics: projection lag: %w", err)
		}
	}
	local := max(0, a.counters.buffered())
	if a.inProcess {
		local += max(0, a.counters.unconsumed())
	}
	return lag + local, nil
}

// Rebuild builds the statistics afresh from the store's whole history and
// swaps them in (readers see the old ones until then): for a new statistic
// (EnableBrowsers) or a fixed bug in the projection. It costs one read of
// every event in the store, whatever the streams.
func (a *Analytics) Rebuild(ctx context.Context) error {
	if err := a.runner.Rebuild(ctx); err != nil {
		return fmt.Errorf("analytics: rebuild: %w", err)
	}
	return nil
}

// EnableBrowsers turns on the per-browser statistic (Stats.Browsers), the
// way a new release adds a statistic: clicks projected from now on are
// counted, those before are not (Stats.BrowsersPartial) until Rebuild
// backfills them from the history.
func (a *Analytics) EnableBrowsers() { a.browsers.Store(true) }

// Flush waits until every click recorded so far has been published, the
// clicks this instance's consumers took are stored, and the projection has
// applied the store up to its head as of then; or until ctx is done. In a
// fleet sharing a Redis bus, other instances may take some of this
// instance's clicks: Flush then waits for them too only as far as this
// instance can count (use it in tests and tools run alone).
//
// Flush before Start is an error wrapping ErrNotStarted (nothing would
// publish); after Close, ErrClosed.
func (a *Analytics) Flush(ctx context.Context) error {
	a.mu.Lock()
	started, closing := a.started, a.closing
	a.mu.Unlock()
	switch {
	case closing:
		return ErrClosed
	case !started:
		return fmt.Errorf("%w: Flush before Start", ErrNotStarted)
	}
	if err := a.awaitPublished(ctx); err != nil {
		return err
	}
	if err := a.awaitConsumed(ctx); err != nil {
		return err
	}
	h, ok := a.store.(cqrs.Header)
	if !ok {
		return nil
	}
	head, err := h.Head(ctx)
	if err != nil {
		return fmt.Errorf("analytics: flush: %w", err)
	}
	if err := a.runner.WaitFor(ctx, head); err != nil {
		return fmt.Errorf("analytics: flush: %w", err)
	}
	return nil
}

// Close stops recording (Record returns ErrClosed), publishes the clicks
// still buffered, and on an in-process bus waits until the consumers have
// stored every click (on a Redis bus published clicks are durable and wait
// for the next consumer instead); then it leaves the group and stops the
// projection. It returns by ctx's deadline; what was not published by then
// is lost and counted (Counters.Lost). The bus and the store are the
// caller's: Close does not close them. Calling it again returns the first
// call's error.
func (a *Analytics) Close(ctx context.Context) error {
	a.closeOnce.Do(func() { a.closeErr = a.close(ctx) })
	return a.closeErr
}

func (a *Analytics) close(ctx context.Context) error {
	a.mu.Lock()
	a.closing = true
	started := a.started
	a.mu.Unlock()
	// Records hold recordMu's read side while they send: taking the
	// write side waits for them, and later ones see recClosed.
	a.recordMu.Lock()
	a.recClosed = true
	close(a.buf)
	a.recordMu.Unlock()
	if !started {
		a.counters.unpublished.Add(int64(len(a.buf)))
		return nil
	}
	var errs []error
	if err := a.awaitPublishers(ctx); err != nil {
		errs = append(errs, err)
	}
	if a.inProcess && len(errs) == 0 {
		if err := a.awaitConsumed(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := a.sub.Unsubscribe(); err != nil && !errors.Is(err, pubsub.ErrClosed) {
		errs = append(errs, fmt.Errorf("analytics: leaving the click group: %w", err))
	}
	a.stop()
	select {
	case <-a.runDone:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("analytics: stopping the projection: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// discard is a slog.Handler that drops everything.
type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }
