package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a private redis-server process for one test, so that the test
// can do to it what a shared server must never suffer: freeze it, kill it,
// pause it, run it out of memory, flush it. It listens on a free loopback
// port, keeps nothing on disk, and is killed when the test ends.
type Server struct {
	t    testing.TB
	port int
	dir  string
	aof  bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

// NeedServer returns the redis-server binary, or skips t with a clear
// message when none is installed and no real Redis is configured. When a
// real Redis is configured (as in CI) a missing binary fails t instead: the
// fault suites must not vanish silently.
func NeedServer(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err == nil {
		return path
	}
	if os.Getenv(EnvAddr) != "" || os.Getenv("CI") != "" {
		t.Fatalf("redistest: redis-server is not on PATH, but a real Redis is configured: the fault suite needs it")
	}
	t.Skip("redistest: redis-server is not installed; fault tests need a private server (make test installs none, .ci/run does)")
	return ""
}

// ServerOption configures StartServer.
type ServerOption func(*Server)

// WithAOF runs the server with an append-only file fsynced on every write
// (appendfsync always), so that Kill then Restart loses nothing the server
// acknowledged: the setting the README recommends where data must survive.
func WithAOF() ServerOption { return func(s *Server) { s.aof = true } }

// StartServer starts a private redis-server for t (see NeedServer for when
// it skips) and returns once it answers PING. Without WithAOF it keeps
// nothing on disk, so Restart brings it back empty.
func StartServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	NeedServer(t)
	s := &Server{t: t, dir: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	var err error
	for try := 0; try < 5; try++ {
		if s.port, err = freePort(); err != nil {
			continue
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redistest: starting redis-server: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs redis-server on s.port and waits until it answers.
func (s *Server) start() error {
	appendonly := "no"
	if s.aof {
		appendonly = "yes"
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", appendonly, "--appendfsync", "always", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "log"),
		"--enable-debug-command", "yes")
	if err := cmd.Start(); err != nil {
		return err
	}
	exit := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exit) }()
	s.mu.Lock()
	s.cmd, s.exit = cmd, exit
	s.mu.Unlock()

	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exit:
			log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			return fmt.Errorf("redis-server exited (port taken?): %s", log)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exit
	return errors.New("redis-server did not answer PING within 5s")
}

func (s *Server) stop() {
	s.mu.Lock()
	cmd, exit := s.cmd, s.exit
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // a frozen server cannot die
	_ = cmd.Process.Kill()
	<-exit
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Client returns a client of the server (closed when the test ends) with
// 1s dial, read and write timeouts, faults of its own, and, as Target's
// clients, no retries (MaxRetries -1).
func (s *Server) Client(opts ...ClientOption) (redis.UniversalClient, *Faults) {
	var cfg clientConfig
	for _, o := range opts {
		o(&cfg)
	}
	f := newFaults()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Dialer: f.dial, ContextTimeoutEnabled: cfg.contextTimeouts,
		MaxRetries: -1, DialTimeout: dialTimeout, ReadTimeout: serverReadTimeout, WriteTimeout: writeTimeout})
	s.t.Cleanup(func() { _ = c.Close() })
	return c, f
}

// admin runs one command on a connection of its own.
func (s *Server) admin(args ...any) error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, ReadTimeout: 5 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Do(ctx, args...).Err()
}

func (s *Server) must(what string, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("redistest: %s: %v", what, err)
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	s.must("signal "+sig.String(), cmd.Process.Signal(sig))
}

// Freeze stops the server process (SIGSTOP): connections stay open and
// nothing answers, as with a server stuck in a long command or a host
// that stalls.
func (s *Server) Freeze() { s.t.Helper(); s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (s *Server) Thaw() { s.t.Helper(); s.signal(syscall.SIGCONT) }

// Kill kills the server (SIGKILL): connections are reset and new ones
// refused until Restart.
func (s *Server) Kill() {
	s.t.Helper()
	s.mu.Lock()
	cmd, exit := s.cmd, s.exit
	s.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGCONT)
	s.must("kill", cmd.Process.Kill())
	<-exit
}

// Restart starts a killed server again on the same port: empty, as a
// server running without persistence comes back, or with WithAOF holding
// every write it acknowledged.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for try := 0; try < 20; try++ { // the port may linger for a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("redistest: restarting redis-server: %v", err)
}

// Pause makes the server hold every client's commands for d (CLIENT PAUSE
// ALL), as during a failover.
func (s *Server) Pause(d time.Duration) {
	s.t.Helper()
	s.must("client pause", s.admin("client", "pause", d.Milliseconds(), "all"))
}

// Sleep blocks the server for d (DEBUG SLEEP), as a slow command would. It
// returns once the server has stopped answering (at most 1s after the call);
// the server answers again after d.
func (s *Server) Sleep(d time.Duration) {
	s.t.Helper()
	go func() {
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, ReadTimeout: d + 5*time.Second})
		defer c.Close()
		_ = c.Do(context.Background(), "debug", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64)).Err()
	}()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1, ReadTimeout: 20 * time.Millisecond})
	defer c.Close()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		if c.Ping(context.Background()).Err() != nil {
			return // asleep
		}
		time.Sleep(time.Millisecond)
	}
	s.t.Fatalf("redistest: DEBUG SLEEP did not take hold within 1s")
}

// OOM makes the server refuse writes for lack of memory (maxmemory far
// below what it uses, noeviction), as a full server does. Reads and
// deletions still work; Heal undoes it.
func (s *Server) OOM() {
	s.t.Helper()
	s.must("config set maxmemory-policy", s.admin("config", "set", "maxmemory-policy", "noeviction"))
	s.must("config set maxmemory", s.admin("config", "set", "maxmemory", "1"))
}

// Roomy lifts OOM's memory limit.
func (s *Server) Roomy() {
	s.t.Helper()
	s.must("config set maxmemory", s.admin("config", "set", "maxmemory", "0"))
}

// FlushAll deletes every key, as an operator's FLUSHALL does.
func (s *Server) FlushAll() { s.t.Helper(); s.must("flushall", s.admin("flushall")) }

// ScriptFlush empties the script cache, so the next EVALSHA gets NOSCRIPT.
func (s *Server) ScriptFlush() { s.t.Helper(); s.must("script flush", s.admin("script", "flush")) }

// AwaitAnswer waits until the server answers PING again (after Pause or
// Sleep), failing the test after 5s.
func (s *Server) AwaitAnswer() {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("redistest: the server did not answer within 5s of the fault's end")
}
