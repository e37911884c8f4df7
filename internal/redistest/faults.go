package redistest

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// ErrCut is the error a cut connection reports.
var ErrCut = errors.New("redistest: connection cut")

// ErrReplyLost is the error a connection reports once Deafen has thrown
// away a reply it carried: what follows on it can no longer be parsed.
var ErrReplyLost = errors.New("redistest: a reply was lost on this connection")

type faultMode int

const (
	healthy faultMode = iota
	cut               // connections closed, dials refused
	hung              // commands swallowed: replies never come
	deaf              // commands run, replies thrown away
)

// Faults breaks one client's connections to Redis on demand, as a network
// partition or a frozen server would, and heals them again. The server
// itself is untouched, so other clients and other tests carry on.
type Faults struct {
	mu    sync.Mutex
	mode  faultMode
	conns map[*faultConn]struct{}
}

func newFaults() *Faults { return &Faults{conns: make(map[*faultConn]struct{})} }

// Cut closes every open connection and refuses new ones until Heal: calls
// fail at once, as when the server is down.
func (f *Faults) Cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = cut
	for c := range f.conns {
		_ = c.Conn.Close()
		delete(f.conns, c)
	}
}

// Hang swallows every command from now until Heal: calls block until their
// deadline, as when the server is frozen or the network drops packets.
func (f *Faults) Hang() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = hung
}

// Deafen lets every command through to the server, which runs it, and
// throws its reply away, from now until Heal: calls time out (at the
// client's read timeout or their ctx deadline) with an outcome the client
// cannot know, as when a reply is lost on the way or arrives after its
// caller stopped waiting. A connection that lost a reply fails from then
// on (ErrReplyLost), so the client drops it. go-redis sends a call again
// after such a timeout unless the client has MaxRetries -1: each try runs
// on the server.
func (f *Faults) Deafen() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = deaf
}

// Heal lets connections work again; the client reconnects by itself.
// Connections that Deafen held are closed: the calls waiting on them fail
// at once, their replies lost.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = healthy
	for c := range f.conns {
		if c.deafened.Load() {
			_ = c.Conn.Close()
			delete(f.conns, c)
		}
	}
}

func (f *Faults) current() faultMode {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mode
}

func (f *Faults) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if f.current() == cut {
		return nil, ErrCut
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	fc := &faultConn{Conn: c, f: f}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mode == cut {
		_ = c.Close()
		return nil, ErrCut
	}
	f.conns[fc] = struct{}{}
	return fc, nil
}

type faultConn struct {
	net.Conn
	f        *Faults
	lost     atomic.Bool // Deafen threw a reply away: the stream is out of step
	deafened atomic.Bool // a read waited under Deafen: Heal closes it
}

func (c *faultConn) Write(b []byte) (int, error) {
	if c.lost.Load() {
		return 0, ErrReplyLost
	}
	switch c.f.current() {
	case cut:
		return 0, ErrCut
	case hung:
		return len(b), nil // the server never sees it, so no reply comes
	}
	return c.Conn.Write(b)
}

func (c *faultConn) Read(b []byte) (int, error) {
	if c.lost.Load() {
		return 0, ErrReplyLost
	}
	switch c.f.current() {
	case cut:
		return 0, ErrCut
	case deaf:
		c.deafened.Store(true)
		return c.discard(b)
	}
	return c.Conn.Read(b)
}

// discard reads and throws away what the server sends until the read
// fails (the client's read deadline, or a close).
func (c *faultConn) discard(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if n > 0 {
			c.lost.Store(true)
		}
		if err != nil {
			return 0, err
		}
		if c.f.current() != deaf {
			return 0, ErrReplyLost
		}
	}
}

func (c *faultConn) Close() error {
	c.f.mu.Lock()
	delete(c.f.conns, c)
	c.f.mu.Unlock()
	return c.Conn.Close()
}
