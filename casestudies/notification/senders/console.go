package senders

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sysdesign/patterns/internal/backoff"
)

// ErrInjected is the error of a failure the console sender was told to
// inject; permanent ones are also marked by Permanent.
var ErrInjected = errors.New("senders: injected failure")

// Console prints each message as one line to a writer, and can be told to
// fail — the next N sends, every send until told otherwise (a provider that
// is down), or permanently — and to take a while, so that demos and tests
// can show retries, breakers and timeouts without a real provider. Its
// failure settings may be changed while it is in use.
type Console struct {
	name string
	mu   sync.Mutex // serialises writes to out and the failure settings
	out  io.Writer

	failNext  int
	down      bool
	permanent bool
	latency   time.Duration
	sent      atomic.Int64
	failed    atomic.Int64
	observe   func(Message, error)
}

// NewConsole returns a console sender that writes to out (nil: discards)
// and names itself name in its lines and errors.
func NewConsole(name string, out io.Writer) *Console {
	if out == nil {
		out = io.Discard
	}
	return &Console{name: name, out: out}
}

// FailNext makes the next n sends fail with a transient error.
func (c *Console) FailNext(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failNext = max(n, 0)
}

// SetDown makes every send fail with a transient error while down is true:
// a provider that is unreachable.
func (c *Console) SetDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// SetPermanent makes every send fail with a permanent error while p is
// true: a provider that rejects the recipient.
func (c *Console) SetPermanent(p bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.permanent = p
}

// SetLatency makes each send take d (or until its ctx is done).
func (c *Console) SetLatency(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.latency = max(d, 0)
}

// Observe sets a function told of every send and its outcome (nil: none),
// called synchronously after the send; keep it quick.
func (c *Console) Observe(fn func(Message, error)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.observe = fn
}

// Sent and Failed count the sends that succeeded and failed.
func (c *Console) Sent() int64 { return c.sent.Load() }

// Failed counts the sends that failed, injected or cancelled.
func (c *Console) Failed() int64 { return c.failed.Load() }

// Send prints m, unless a failure is due.
func (c *Console) Send(ctx context.Context, m Message) error {
	c.mu.Lock()
	latency := c.latency
	c.mu.Unlock()
	err := backoff.Sleep(ctx, latency)
	c.mu.Lock()
	if err == nil {
		err = c.injected()
	}
	if err == nil {
		_, err = fmt.Fprintf(c.out, "[%s] %s to %s (%s, attempt %d): %s\n", c.name, m.ID, m.To, m.Priority, m.Attempt, m.Subject)
	}
	observe := c.observe
	c.mu.Unlock()
	if err != nil {
		c.failed.Add(1)
	} else {
		c.sent.Add(1)
	}
	if observe != nil {
		observe(m, err)
	}
	return err
}

// injected returns the failure due now, if any; c.mu is held.
func (c *Console) injected() error {
	switch {
	case c.permanent:
		return Permanent(fmt.Errorf("%s: %w: recipient rejected", c.name, ErrInjected))
	case c.down:
		return fmt.Errorf("%s: %w: provider down", c.name, ErrInjected)
	case c.failNext > 0:
		c.failNext--
		return fmt.Errorf("%s: %w: transient", c.name, ErrInjected)
	}
	return nil
}
