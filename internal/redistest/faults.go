package redistest

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ErrCut is the error a cut connection reports.
var ErrCut = errors.New("redistest: connection cut")

type faultMode int

const (
	healthy faultMode = iota
	cut               // connections closed, dials refused
	hung              // commands swallowed: replies never come
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

// Heal lets connections work again; the client reconnects by itself.
func (f *Faults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = healthy
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
	f *Faults
}

func (c *faultConn) Write(b []byte) (int, error) {
	switch c.f.current() {
	case cut:
		return 0, ErrCut
	case hung:
		return len(b), nil // the server never sees it, so no reply comes
	}
	return c.Conn.Write(b)
}

func (c *faultConn) Read(b []byte) (int, error) {
	if c.f.current() == cut {
		return 0, ErrCut
	}
	return c.Conn.Read(b)
}

func (c *faultConn) Close() error {
	c.f.mu.Lock()
	delete(c.f.conns, c)
	c.f.mu.Unlock()
	return c.Conn.Close()
}
