package saga

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Result is what an execution of a saga did.
type Result[T any] struct {
	Saga, ID string
	// Status is how the saga ended; Running only when Execute stopped
	// early (see Execute).
	Status Status
	// Data is the saga's data as the steps left it.
	Data T
	// Steps has one outcome per step, in definition order.
	Steps []StepResult
	// Err is the error Execute returned: nil when the saga Completed, an
	// *Error naming the step when it was Compensated or Failed, the log's
	// error when it stopped early (Status Running).
	Err error
	// Recovered: this process took the saga over from one that stopped.
	Recovered bool
	// Replayed: the saga had finished before; this Result was read from
	// the log and nothing ran.
	Replayed bool
	// Started and Duration: when the first transition was logged (by
	// whichever process) and how long until the last one so far.
	Started  time.Time
	Duration time.Duration
}

// StepState is where a step ended.
type StepState int

// The states of a step.
const (
	// StepPending: the step's action never began.
	StepPending StepState = iota
	// StepRunning: the action began and its outcome was not logged (only
	// in a Result of a saga that stopped early).
	StepRunning
	// StepSucceeded: the action succeeded and was not undone (or has no
	// compensation).
	StepSucceeded
	// StepActionFailed: the action failed; it is not compensated.
	StepActionFailed
	// StepCompensating: the compensation began and its outcome was not
	// logged (only in a Result of a saga that stopped early).
	StepCompensating
	// StepUndone: the compensation succeeded.
	StepUndone
	// StepUndoFailed: the compensation gave up; the saga is Failed.
	StepUndoFailed
)

// stepStateNames are the identifiers in lower-kebab case, as the
// EntryKind names are, so a printed state reads as the constant to
// compare it with.
var stepStateNames = [...]string{
	StepPending: "step-pending", StepRunning: "step-running", StepSucceeded: "step-succeeded",
	StepActionFailed: "step-action-failed", StepCompensating: "step-compensating",
	StepUndone: "step-undone", StepUndoFailed: "step-undo-failed",
}

// String returns the identifier in lower-kebab case, e.g. "step-undone"
// for StepUndone.
func (s StepState) String() string {
	if s >= 0 && int(s) < len(stepStateNames) {
		return stepStateNames[s]
	}
	return fmt.Sprintf("StepState(%d)", int(s))
}

// StepResult is one step's outcome.
type StepResult struct {
	Name  string
	State StepState
	// Attempts, Duration and Err of the Action (Err is nil on success).
	Attempts int
	Duration time.Duration
	Err      error
	// CompensationAttempts, CompensationDuration and CompensationErr of the
	// Compensate, when it ran.
	CompensationAttempts int
	CompensationDuration time.Duration
	CompensationErr      error
}

// apply folds one log entry into the result (used for replay and for
// resuming; a live run updates it the same way). err is the entry's error
// when known, else it is rebuilt from e.Err.
func (r *Result[T]) apply(e *Entry, err error) {
	if r.Started.IsZero() {
		r.Started = e.At
	}
	r.Duration = e.At.Sub(r.Started)
	var st *StepResult
	if e.Step >= 0 && e.Step < len(r.Steps) {
		st = &r.Steps[e.Step]
	}
	if err == nil && e.Err != "" {
		err = errors.New(e.Err)
	}
	switch e.Kind {
	case StepBegun:
		if st != nil {
			st.State = StepRunning
		}
	case StepDone:
		if st != nil {
			st.State, st.Attempts, st.Duration, st.Err = StepSucceeded, e.Attempts, e.Duration, nil
		}
	case StepFailed:
		if st != nil {
			st.State, st.Attempts, st.Duration, st.Err = StepActionFailed, e.Attempts, e.Duration, err
		}
	case CompensationBegun:
		if st != nil {
			st.State = StepCompensating
		}
	case CompensationDone:
		if st != nil {
			st.State, st.CompensationAttempts, st.CompensationDuration, st.CompensationErr = StepUndone, e.Attempts, e.Duration, nil
		}
	case CompensationFailed:
		if st != nil {
			st.State, st.CompensationAttempts, st.CompensationDuration, st.CompensationErr = StepUndoFailed, e.Attempts, e.Duration, err
		}
	case Finished:
		r.Status = e.Status
		if e.Status != Completed {
			r.Err = &Error{Saga: r.Saga, ID: r.ID, Step: e.StepName, Status: e.Status, Err: err}
		}
	}
}

// replay rebuilds a Result from a record. Data is decoded from the last
// entry that carries it.
func replay[T any](rec *Record, steps []string) (*Result[T], error) {
	r := &Result[T]{Saga: rec.Saga, ID: rec.ID, Steps: make([]StepResult, len(steps))}
	for i, n := range steps {
		r.Steps[i].Name = n
	}
	var data []byte
	for i := range rec.Entries {
		e := &rec.Entries[i]
		if e.Step >= len(steps) || (e.Step >= 0 && e.StepName != steps[e.Step]) {
			return nil, fmt.Errorf("%w: saga %s/%s: entry %d is for step %d %q, the saga's step %d is %s",
				ErrLogMismatch, rec.Saga, rec.ID, i+1, e.Step, e.StepName, e.Step, stepAt(steps, e.Step))
		}
		r.apply(e, nil)
		if len(e.Data) > 0 {
			data = e.Data
		}
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.Data); err != nil {
			return nil, fmt.Errorf("%w: saga %s/%s: data does not decode: %v", ErrLogMismatch, rec.Saga, rec.ID, err)
		}
	}
	return r, nil
}

func stepAt(steps []string, i int) string {
	if i < 0 || i >= len(steps) {
		return "missing"
	}
	return fmt.Sprintf("%q", steps[i])
}
