package saga

import "time"

// Event is one transition of a saga, handed to the observer of
// WithObserver after it is logged (and for Retrying, which is not logged),
// so services can log and measure sagas.
type Event struct {
	Saga, ID string
	Kind     EntryKind
	// Step and StepName identify the step; -1 and "" for Started and
	// Finished.
	Step     int
	StepName string
	// Attempts and Duration as in Entry; for Retrying, Attempts is the
	// number of the try that failed and Backoff the wait before the next.
	Attempts int
	Duration time.Duration
	Backoff  time.Duration
	// Err is the error of StepFailed, CompensationFailed, Retrying and of
	// a Finished saga that did not complete.
	Err error
	// Status is the saga's end status on Finished.
	Status Status
	// Recovered is true when the saga is being finished by a process other
	// than the one that started it (after Recover or a takeover by Execute).
	Recovered bool
	At        time.Time
}
