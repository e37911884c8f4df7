package breaker

import "strconv"

// State is the state of a circuit.
type State int

// The states. The zero State is Closed.
const (
	// Closed: calls run; failures are counted and may open the circuit.
	Closed State = iota
	// HalfOpen: after OpenTimeout, up to HalfOpenMaxCalls probes run; the
	// other calls get ErrTooManyCalls. All probes succeeding closes the
	// circuit, any failing re-opens it.
	HalfOpen
	// Open: calls are refused with ErrOpen without running.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// The breaker's state word packs, so that the closed fast path needs one
// atomic load and a failure one CAS:
//
//	bits 63..32  generation: +1 on every transition, so outcomes of calls
//	             admitted in an earlier period are told apart
//	bits 31..2   consecutive failures in the current closed period
//	bits  1..0   State
const (
	stateMask   = 3
	consecShift = 2
	consecOne   = 1 << consecShift
	maxConsec   = 1<<30 - 1
	consecMask  = maxConsec << consecShift
	genShift    = 32
)

func stateOf(w uint64) State   { return State(w & stateMask) }
func consecOf(w uint64) int    { return int(w >> consecShift & maxConsec) }
func sameGen(a, b uint64) bool { return a>>genShift == b>>genShift }
func nextWord(w uint64, to State) uint64 {
	return (w>>genShift+1)<<genShift | uint64(to)
}
