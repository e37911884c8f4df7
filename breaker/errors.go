package breaker

import (
	"errors"
	"strconv"
	"time"
)

var (
	// ErrOpen is returned, wrapped in an *OpenError, by calls refused because
	// the circuit is open. fn was not run. errors.As gives the *OpenError,
	// whose RetryAfter says how long until a probe is let through.
	ErrOpen = errors.New("breaker: circuit open")
	// ErrTooManyCalls is returned by calls refused in the half-open state
	// because HalfOpenMaxCalls probes are already under way (fleet-wide, with
	// a shared store). fn was not run.
	ErrTooManyCalls = errors.New("breaker: too many calls while half-open")
	// ErrInvalidConfig wraps every configuration error of New, NewRedisStore
	// and their options.
	ErrInvalidConfig = errors.New("breaker: invalid config")
	// ErrNilFunc is returned by Execute and Do when fn is nil: a caller's
	// bug, not the dependency's, so it is neither run nor counted (no
	// failure, no rejection) and the state does not change.
	ErrNilFunc = errors.New("breaker: nil fn")
)

// OpenError is the error of a call refused because the circuit is open:
// errors.Is(err, ErrOpen) holds for it. A breaker makes one OpenError per
// open period and returns that same value to every call it refuses then,
// so refusing allocates nothing; RetryAfter is therefore computed when it
// is asked, from Until and the breaker's clock.
type OpenError struct {
	// Name is the breaker's Config.Name.
	Name string
	// Until is when the breaker lets the first probe through, on the
	// breaker's clock (Config.Clock). With a shared store it is derived
	// from the Redis server's clock when the state was learnt.
	Until time.Time

	now func() time.Time
}

// RetryAfter is the time left until a probe is allowed: how long a caller
// should wait before trying again. It is 0 once the open period is over.
func (e *OpenError) RetryAfter() time.Duration {
	if e.now == nil {
		return 0
	}
	return max(e.Until.Sub(e.now()), 0)
}

// Error says which circuit is open and for how much longer (rounded up to
// the millisecond).
func (e *OpenError) Error() string {
	s := "breaker: circuit open"
	if e.Name != "" {
		s = "breaker " + strconv.Quote(e.Name) + ": circuit open"
	}
	d := (e.RetryAfter() + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	return s + ", next probe in " + d.String()
}

// Unwrap returns ErrOpen, so errors.Is(err, ErrOpen) holds.
func (e *OpenError) Unwrap() error { return ErrOpen }
