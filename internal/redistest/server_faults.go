package redistest

import (
	"testing"
	"time"
)

// Effect is what a server fault does to the clients of the server while
// it lasts; a fault suite decides from it what its calls must do.
type Effect int

const (
	// Hangs: commands get no answer (SIGSTOP, CLIENT PAUSE, DEBUG SLEEP),
	// so only a client-side bound ends a call.
	Hangs Effect = iota
	// Refuses: the server is gone; calls fail at once with a connection
	// error.
	Refuses
	// ReadOnly: reads answer, writes are refused with OOM (maxmemory
	// reached under noeviction).
	ReadOnly
	// Answers: the server keeps answering (a flush); only what it holds
	// changes.
	Answers
)

// Unreachable reports whether the server answers nothing while the
// fault lasts.
func (e Effect) Unreachable() bool { return e == Hangs || e == Refuses }

// ServerFault is one way a Redis server fails, and how it ends. Every
// package's fault suite runs the same catalogue (ServerFaults), so a new
// fault reaches them all.
type ServerFault struct {
	Name   string
	Effect Effect
	// Persistent: the server runs with WithAOF (appendfsync always) and
	// restarts with everything it acknowledged.
	Persistent bool
	// Lossy: what the server held is lost (a restart without
	// persistence, FLUSHALL).
	Lossy  bool
	Inject func(s *Server)
	// Heal ends the fault and returns once the server answers again;
	// nil when there is nothing to end.
	Heal func(s *Server)
}

// Start starts the private server the fault needs: with WithAOF when it
// is Persistent.
func (f ServerFault) Start(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	if f.Persistent {
		opts = append(opts, WithAOF())
	}
	return StartServer(t, opts...)
}

// ServerFaults is the catalogue of server faults every fault suite runs.
// window is how long the faults that end by themselves (CLIENT PAUSE,
// DEBUG SLEEP) last: long enough for the calls a suite makes meanwhile to
// meet them; their Heal waits until the server answers again.
func ServerFaults(window time.Duration) []ServerFault {
	return []ServerFault{
		{Name: "freeze", Effect: Hangs, Inject: (*Server).Freeze, Heal: (*Server).Thaw},
		{Name: "kill and restart with AOF", Effect: Refuses, Persistent: true, Inject: (*Server).Kill, Heal: (*Server).Restart},
		{Name: "kill and restart empty", Effect: Refuses, Lossy: true, Inject: (*Server).Kill, Heal: (*Server).Restart},
		{Name: "client pause", Effect: Hangs, Inject: func(s *Server) { s.Pause(window) }, Heal: (*Server).AwaitAnswer},
		{Name: "debug sleep", Effect: Hangs, Inject: func(s *Server) { s.Sleep(window) }, Heal: (*Server).AwaitAnswer},
		{Name: "out of memory", Effect: ReadOnly, Inject: (*Server).OOM, Heal: (*Server).Roomy},
		{Name: "flushall", Effect: Answers, Lossy: true, Inject: (*Server).FlushAll},
		{Name: "script flush", Effect: Answers, Inject: (*Server).ScriptFlush},
	}
}
