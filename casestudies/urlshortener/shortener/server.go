package shortener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/sysdesign/patterns/cache"
	"github.com/sysdesign/patterns/casestudies/urlshortener/codes"
	"github.com/sysdesign/patterns/casestudies/urlshortener/urlcheck"
	"github.com/sysdesign/patterns/casestudies/urlshortener/web"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

// Server is the URL shortener: Handler serves it, between Start and
// Shutdown. It is safe for concurrent use.
type Server struct {
	cfg       Config
	be        *backend
	check     *urlcheck.Checker
	links     *cqrs.Repository[linkState]
	dedup     *cqrs.Repository[dedupState]
	runner    *cqrs.Runner
	resolver  *cache.Aside[Link]
	analytics Analytics
	handler   http.Handler
	visits    *visitGuard
	bus       pubsub.Bus // the bus defaultAnalytics made, or nil
	pages     *web.Pages
	creates   *flight[createdLink]

	gen atomic.Pointer[codes.Generator] // set by Start

	// finishing holds the codes whose expired or exhausted event is being
	// written, so a burst of clicks writes it once.
	finishing sync.Map
	bg        sync.WaitGroup

	mu       sync.Mutex
	started  bool
	stopRun  context.CancelFunc
	runDone  chan struct{}
	shutdown bool

	stats counters
}

// New builds a Server from cfg; errors wrap ErrInvalidConfig. It starts
// nothing: call Start before serving.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base, _ := url.Parse(cfg.BaseURL)
	check, err := urlcheck.New(append([]string{base.Host}, cfg.OwnHosts...)...)
	if err != nil {
		return nil, fmt.Errorf("%w: OwnHosts: %v", ErrInvalidConfig, err)
	}
	var be *backend
	if cfg.Redis != nil {
		be, err = newRedisBackend(cfg)
	} else {
		be, err = newMemoryBackend(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	s := &Server{cfg: cfg, be: be, check: check, analytics: cfg.Analytics, creates: newFlight[createdLink]()}
	if err := s.build(); err != nil {
		if s.bus != nil {
			_ = s.bus.Close()
		}
		_ = be.close()
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return s, nil
}

func (s *Server) build() (err error) {
	if s.links, err = cqrs.NewRepository(s.be.store, evolveLink, cqrs.WithStreamPrefix("link-"), cqrs.WithConflictRetries(3)); err != nil {
		return err
	}
	if s.dedup, err = cqrs.NewRepository(s.be.store, evolveDedup, cqrs.WithStreamPrefix("dedup-"), cqrs.WithConflictRetries(5)); err != nil {
		return err
	}
	if s.visits, err = newVisitGuard(); err != nil {
		return err
	}
	// The link table is shown only the links' lifecycle events: the clicks
	// and dedup claims sharing the store are read past, not decoded.
	if s.runner, err = cqrs.NewRunner(s.be.store, s.be.table, cqrs.WithEventFilter(cqrs.EventFilter{
		Types:          []string{EventLinkCreated, EventLinkDeleted, EventLinkExpired, EventLinkExhausted},
		StreamPrefixes: []string{s.links.StreamID("")},
	})); err != nil {
		return err
	}
	// The loader reads the link table, on Redis with the redirect waiting:
	// bound it like a write, so an outage costs a redirect WriteTimeout
	// once, not the store's own 2s.
	s.resolver, err = cache.NewAside(s.be.links, s.loadLink, cache.WithTTL(s.cfg.CacheTTL),
		cache.WithLoadTimeout(s.cfg.WriteTimeout), cache.WithClock(s.cfg.Clock), cache.WithLogger(s.cfg.Logger))
	if err != nil {
		return err
	}
	if s.analytics == nil {
		if s.analytics, err = s.defaultAnalytics(); err != nil {
			return err
		}
	}
	s.handler, err = s.routes()
	return err
}

// loadLink is the resolution cache's loader: the link table, never the
// write side.
func (s *Server) loadLink(ctx context.Context, code string) (Link, error) {
	l, ok, err := s.be.get(ctx, code)
	if err != nil {
		return Link{}, err
	}
	if !ok {
		return Link{}, cache.ErrNotFound
	}
	return l, nil
}

// Handler returns the service's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start readies the code generator (reading or making its key), catches the
// link table up with the event log and keeps it following in the
// background, and starts analytics. It returns once serving can begin.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.shutdown {
		return errors.New("shortener: Start called twice or after Shutdown")
	}
	gen := codes.NewSequential()
	if !s.cfg.Sequential {
		key, err := s.be.codeKey(ctx, s.cfg.CodeKey)
		if err != nil {
			return fmt.Errorf("shortener: code key: %w", err)
		}
		if gen, err = codes.New(key); err != nil {
			return err
		}
	}
	s.gen.Store(gen)
	if _, err := s.runner.CatchUp(ctx); err != nil {
		return fmt.Errorf("shortener: link table: %w", err)
	}
	if err := s.analytics.Start(ctx); err != nil {
		return fmt.Errorf("shortener: analytics: %w", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	s.stopRun, s.runDone = stop, make(chan struct{})
	go func() {
		defer close(s.runDone)
		if err := s.runner.Run(runCtx); err != nil {
			s.cfg.Logger.Error("link table projection stopped", "err", err)
		}
	}()
	s.started = true
	return nil
}

// Shutdown finishes the lifecycle events being written, flushes pending
// clicks (analytics Close) and stops the projection, by ctx's deadline.
// Stop the HTTP server first (http.Server.Shutdown), so no request arrives
// meanwhile.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return nil
	}
	s.shutdown = true
	started := s.started
	s.mu.Unlock()

	waited := make(chan struct{})
	go func() { s.bg.Wait(); close(waited) }()
	var errs []error
	select {
	case <-waited:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("shortener: lifecycle writes: %w", ctx.Err()))
	}
	if started {
		if err := s.analytics.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shortener: analytics: %w", err))
		}
		s.stopRun()
		select {
		case <-s.runDone:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("shortener: link table: %w", ctx.Err()))
		}
	}
	if s.bus != nil {
		errs = append(errs, s.bus.Close())
	}
	errs = append(errs, s.resolver.Close(), s.be.close())
	return errors.Join(errs...)
}

// project waits until the link table holds the event at position pos
// (read-your-writes for the caller of a create or delete).
func (s *Server) project(ctx context.Context, pos int64) error {
	return s.runner.WaitFor(ctx, pos)
}
