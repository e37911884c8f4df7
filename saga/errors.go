package saga

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidConfig wraps every configuration error of a constructor.
	ErrInvalidConfig = errors.New("saga: invalid config")
	// ErrInvalidID is returned for an empty saga id.
	ErrInvalidID = errors.New("saga: invalid id")
	// ErrRunning is returned by Execute for an id whose saga another process
	// (or goroutine) is driving right now: it holds the saga's lease.
	ErrRunning = errors.New("saga: running elsewhere")
	// ErrLeaseLost means another process took the saga over (this process
	// was too slow to renew its lease, e.g. cut off from Redis). This
	// process stopped at once and runs nothing more for it.
	ErrLeaseLost = errors.New("saga: lease lost to another process")
	// ErrNotFound is returned for a saga id the log does not hold (never
	// started, or finished longer ago than the log's retention).
	ErrNotFound = errors.New("saga: not found")
	// ErrFinished is returned by a Log when a write targets a saga that has
	// finished already.
	ErrFinished = errors.New("saga: already finished")
	// ErrCompensated is wrapped by the error of a saga that failed at a step
	// and undid the steps before it: Result.Status is Compensated.
	ErrCompensated = errors.New("saga: step failed, saga compensated")
	// ErrFailed is wrapped by the error of a saga whose compensation could
	// not be completed: Result.Status is Failed. An operator must act; the
	// saga's log is kept for that.
	ErrFailed = errors.New("saga: compensation failed, operator action required")
	// ErrAbandoned is the cause recorded for a saga whose process stopped
	// mid-way (its lease expired) and that Recover rolled back.
	ErrAbandoned = errors.New("saga: abandoned by its process, rolled back on recovery")
	// ErrLogMismatch means the log of a saga does not fit the saga's
	// definition (a step was renamed or removed since it was written), or
	// its data no longer decodes into T. The saga is left as it is.
	ErrLogMismatch = errors.New("saga: log does not match the saga definition")
	// ErrPanic wraps the value of a panic raised by an Action or Compensate;
	// the attempt counts as failed.
	ErrPanic = errors.New("saga: step panicked")
)

// Error is the error of a saga that did not complete: errors.Is(err,
// ErrCompensated) or errors.Is(err, ErrFailed) tells which way it ended,
// and it also unwraps to the step's own error (errors.Is(err, ErrDeclined)
// for a payment step that returned ErrDeclined). An error replayed from the
// log has lost its type: only its message is kept.
type Error struct {
	// Saga and ID identify the saga execution.
	Saga, ID string
	// Step names the step whose action failed (Status Compensated) or whose
	// compensation gave up (Status Failed); empty when no step failed
	// (a saga abandoned before its first step began).
	Step string
	// Status is Compensated or Failed.
	Status Status
	// Err is the cause: the step's error, or ErrAbandoned.
	Err error
}

// Error says how the saga ended, at which step and why.
func (e *Error) Error() string {
	what := "compensated"
	if e.Status == Failed {
		what = "FAILED: compensation could not complete, operator action required"
	}
	if e.Step == "" {
		return fmt.Sprintf("saga %s/%s %s: %v", e.Saga, e.ID, what, e.Err)
	}
	verb := "step"
	if e.Status == Failed {
		verb = "compensation of step"
	}
	return fmt.Sprintf("saga %s/%s %s: %s %q: %v", e.Saga, e.ID, what, verb, e.Step, e.Err)
}

// Unwrap returns the status sentinel (ErrCompensated or ErrFailed) and the
// cause.
func (e *Error) Unwrap() []error {
	s := ErrCompensated
	if e.Status == Failed {
		s = ErrFailed
	}
	return []error{s, e.Err}
}

// permanent marks an error that must not be retried.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying: an Action or Compensate that
// returns it is not tried again, whatever its Policy allows (a declined
// card, an order that does not exist). errors.Is and errors.As see through
// it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
