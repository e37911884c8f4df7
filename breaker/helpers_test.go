package breaker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/internal/clocktest"
)

// fakeClock is the tests' manual clock.
type fakeClock = clocktest.Clock

func newFakeClock() *fakeClock {
	return clocktest.NewAt(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
}

var errBoom = errors.New("boom")

func ok(context.Context) error   { return nil }
func fail(context.Context) error { return errBoom }

// mustRun asserts that b runs fn and returns fn's error.
func mustRun(t *testing.T, b *Breaker, fn func(context.Context) error) {
	t.Helper()
	ran := false
	err := b.Execute(context.Background(), func(ctx context.Context) error {
		ran = true
		return fn(ctx)
	})
	require.True(t, ran, "fn did not run; Execute returned %v", err)
}

// mustReject asserts that b refuses a call with an error matching target.
func mustReject(t *testing.T, b *Breaker, target error) error {
	t.Helper()
	ran := false
	err := b.Execute(context.Background(), func(context.Context) error {
		ran = true
		return nil
	})
	require.False(t, ran, "fn ran; want refusal with %v", target)
	require.ErrorIs(t, err, target)
	return err
}

// hookLog records OnStateChange calls.
type hookLog struct {
	mu  sync.Mutex
	log []string
}

func (h *hookLog) hook(name string, from, to State) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = append(h.log, name+":"+from.String()+"->"+to.String())
}

func (h *hookLog) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.log...)
}

// goCall starts b.Execute in a goroutine with an fn that blocks until
// release gets the error fn should return; it returns once fn has started.
// res gets Execute's result.
func goCall(t *testing.T, b *Breaker) (release chan<- error, res <-chan error) {
	t.Helper()
	started, rel, out := make(chan struct{}), make(chan error, 1), make(chan error, 1)
	go func() {
		out <- b.Execute(context.Background(), func(context.Context) error {
			close(started)
			return <-rel
		})
	}()
	select {
	case <-started:
	case err := <-out:
		t.Fatalf("call did not start fn: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("call did not start fn")
	}
	return rel, out
}

func recv(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("call did not return")
		return nil
	}
}

// newMemory makes a breaker with no Store for cfg.
func newMemory(t *testing.T, cfg Config) *Breaker {
	t.Helper()
	b, err := New(cfg)
	require.NoError(t, err)
	return b
}
