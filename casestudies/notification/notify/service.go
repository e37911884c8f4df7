package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/breaker"
	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/queue"
	"github.com/sysdesign/patterns/ratelimit"
)

// ErrUnavailable is wrapped by the errors of a backend that did not answer
// (Redis down); the API answers 503 for it.
var ErrUnavailable = errors.New("notify: backend unavailable")

// Service is the notification service: the HTTP API (Handler) and the
// delivery workers (Start, Shutdown) over one set of backends.
type Service struct {
	cfg      Config
	log      *slog.Logger
	channels map[string]bool

	queue    queue.Queue
	store    cqrs.EventStore
	history  *historyWriter // group commit of the history appends on Redis; nil in memory
	views    *cqrs.Repository[View]
	prefs    prefStore
	prefView *cache.Aside[Preferences]
	idem     idemStore
	limiter  ratelimit.Limiter
	breakers map[string]*breaker.Breaker
	// breakerShared is the Redis store the breakers share, if any.
	breakerShared *breaker.RedisStore
	closers       []func() error

	stats    counters
	started  atomic.Bool
	stopping atomic.Bool
	mu       sync.Mutex
	cancel   context.CancelFunc // ends the deliveries in flight
	stopPull context.CancelFunc // ends the taking of new work
	wg       sync.WaitGroup
}

// New builds a service from cfg; errors wrap ErrInvalidConfig or a
// backend's error. Call Start to run the workers.
func New(cfg Config) (*Service, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: cfg.Logger, channels: make(map[string]bool, len(cfg.Senders))}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for ch := range cfg.Senders {
		s.channels[ch] = true
	}
	if err := s.buildBackends(); err != nil {
		s.closeAll()
		return nil, err
	}
	if err := s.buildBreakers(); err != nil {
		s.closeAll()
		return nil, err
	}
	return s, nil
}

// buildBackends makes the in-memory backends, or the Redis ones.
func (s *Service) buildBackends() error {
	if s.cfg.Redis != nil {
		return s.buildRedis()
	}
	var qopts []queue.MemoryOption
	qopts = append(qopts, queue.WithClock(s.cfg.Clock))
	if s.cfg.Aging > 0 {
		qopts = append(qopts, queue.WithAging(s.cfg.Aging))
	}
	if s.cfg.PollInterval > 0 {
		qopts = append(qopts, queue.WithPollInterval(s.cfg.PollInterval))
	}
	q, err := queue.NewMemory(qopts...)
	if err != nil {
		return err
	}
	s.queue = q
	s.closers = append(s.closers, q.Close)

	if err := s.buildHistory(cqrs.NewMemoryStore()); err != nil {
		return err
	}

	s.prefs = newMemoryPrefs()
	lru, err := cache.NewLRU[Preferences](10_000, cache.WithClock(s.cfg.Clock))
	if err != nil {
		return err
	}
	if err := s.buildPrefView(lru); err != nil {
		return err
	}
	s.idem = newMemoryIdem(s.cfg.Clock)
	if !s.cfg.NoUserRate {
		l, err := ratelimit.NewMemory(ratelimit.TokenBucket, s.cfg.UserRate, ratelimit.WithClock(s.cfg.Clock))
		if err != nil {
			return fmt.Errorf("%w: UserRate: %w", ErrInvalidConfig, err)
		}
		s.limiter = l
	}
	return nil
}

// buildHistory keeps the notifications' history in store, and reads it
// back through a repository that folds a stream into its View.
func (s *Service) buildHistory(store cqrs.EventStore) error {
	s.store = store
	views, err := cqrs.NewRepository(store, projector{historyLimit: s.cfg.HistoryLimit}.evolve, cqrs.WithStreamPrefix(streamPrefix))
	if err != nil {
		return err
	}
	s.views = views
	return nil
}

// buildPrefView puts a read-through cache in front of the preference store.
func (s *Service) buildPrefView(c cache.Cache[Preferences]) error {
	// A load is one bounded store read: its timeout also bounds how long
	// an invalidation's fence must last on Redis.
	a, err := cache.NewAside[Preferences](c, s.prefs.get, cache.WithTTL(s.cfg.PreferenceTTL),
		cache.WithClock(s.cfg.Clock), cache.WithoutEarlyRefresh(), cache.WithLoadTimeout(s.loadTimeout()))
	if err != nil {
		return err
	}
	s.prefView = a
	s.closers = append(s.closers, a.Close)
	return nil
}

// loadTimeout bounds a preference load: one store read, with room for a
// loaded machine.
func (s *Service) loadTimeout() time.Duration {
	if s.cfg.Redis == nil {
		return cache.DefaultLoadTimeout
	}
	return 2 * s.cfg.RedisTimeout
}

// buildBreakers makes one circuit breaker per channel's provider.
func (s *Service) buildBreakers() error {
	s.breakers = make(map[string]*breaker.Breaker, len(s.cfg.Senders))
	for ch := range s.cfg.Senders {
		cfg := breaker.Config{
			Name:             "notify-" + ch,
			FailureThreshold: s.cfg.BreakerThreshold,
			OpenTimeout:      s.cfg.BreakerTimeout,
			IsFailure:        isProviderFailure,
			Clock:            s.cfg.Clock,
			OnStateChange: func(_ string, _, to breaker.State) {
				s.observe(Event{Kind: EventCircuit, At: s.cfg.Clock(), Channel: ch, Status: Status(to.String())})
			},
			Logger: s.cfg.Logger,
		}
		if err := s.breakerStore(&cfg); err != nil {
			return err
		}
		b, err := breaker.New(cfg)
		if err != nil {
			return fmt.Errorf("%w: breaker: %w", ErrInvalidConfig, err)
		}
		s.breakers[ch] = b
	}
	return nil
}

// Start runs the delivery workers until Shutdown.
// Starting twice is an error.
func (s *Service) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("notify: already started")
	}
	// run bounds the deliveries, pull the taking of new work: Shutdown
	// ends pull at once and run only when its own ctx ends, so deliveries
	// in flight finish and are recorded and acknowledged.
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	pull, stopPull := context.WithCancel(run)
	s.mu.Lock()
	s.cancel, s.stopPull = cancel, stopPull
	s.mu.Unlock()
	for range s.cfg.Workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.work(pull, run)
		}()
	}
	return nil
}

// Shutdown stops the workers: they take no new work, deliveries in flight
// finish and are recorded (or, when ctx ends first, are cancelled and
// their jobs go back to the queue: on Redis another instance sends them
// again), then the backends are closed. The HTTP server is the caller's
// to stop first.
func (s *Service) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping.Store(true)
	cancel, stopPull := s.cancel, s.stopPull
	s.mu.Unlock()
	if stopPull != nil {
		stopPull()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cancel != nil {
		cancel() // abandons what is still in flight
	}
	return errors.Join(err, s.closeAll())
}

func (s *Service) closeAll() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// Ready reports whether the service is started and not shutting down.
func (s *Service) Ready() bool { return s.started.Load() && !s.stopping.Load() }

// observe tells Config.Observer of e.
func (s *Service) observe(e Event) {
	if s.cfg.Observer != nil {
		s.cfg.Observer(e)
	}
}

// Handler returns the HTTP API.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/notifications", s.handleCreate)
	mux.HandleFunc("GET /api/notifications/{id}", s.handleGet)
	mux.HandleFunc("DELETE /api/notifications/{id}", s.handleCancel)
	mux.HandleFunc("PUT /api/users/{id}/preferences", s.handlePutPrefs)
	mux.HandleFunc("GET /api/users/{id}/preferences", s.handleGetPrefs)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such endpoint: " + r.Method + " " + r.URL.Path})
	})
	return recoverer(mux, s.log)
}

// deadline bounds a backend call made on behalf of a request.
func deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 5*time.Second)
}
