package saga

import (
	"context"
	"fmt"
	"time"
)

// Log is the durable record of sagas that lets a new process finish what a
// crashed one left half-done. MemoryLog keeps it in the process (for one
// process and tests); RedisLog keeps it in Redis (for a fleet). Both pass
// one conformance suite; another store can implement it too.
//
// A saga is identified by its saga name and id. While it runs, one process
// holds its lease: a fencing token that every write must present, valid
// until the lease's expiry, which every write and Renew extends. A process
// whose lease expired may be taken over (Claim hands out a new token) and
// its later writes fail with ErrLeaseLost, so two processes never both
// write one saga's log. Finished sagas are kept for a retention period, then
// dropped.
//
// Implementations must be safe for concurrent use and must make each call
// atomic: a Claim or Append either happens whole or not at all.
type Log interface {
	// Claim starts or takes over the saga (saga, id) for lease:
	//   - unknown id, entries given: the saga is created with entries (its
	//     first transitions) and a fresh lease; Created is true.
	//   - unknown id, no entries: ErrNotFound.
	//   - finished: nothing changes; Record holds the saga (Token is 0).
	//   - running under a live lease: an error wrapping ErrRunning.
	//   - running under an expired lease (its process is gone): the lease
	//     is taken with a new, larger Token and Record holds the log so far;
	//     entries are not written.
	Claim(ctx context.Context, saga, id string, lease time.Duration, entries []Entry) (Claim, error)
	// Append writes entries, in order, to the log of a running saga and
	// extends the lease to lease from now. If the last entry is Finished,
	// the saga is finished with that entry's Status: the lease ends and the
	// record is kept for the retention period only. Errors: ErrLeaseLost
	// when token is not the saga's current token (checked first),
	// ErrFinished, ErrNotFound.
	Append(ctx context.Context, saga, id string, token int64, lease time.Duration, entries []Entry) error
	// Renew extends the lease of a running saga to lease from now; errors
	// as Append.
	Renew(ctx context.Context, saga, id string, token int64, lease time.Duration) error
	// Load returns the saga's record, or ErrNotFound.
	Load(ctx context.Context, saga, id string) (*Record, error)
	// Abandoned returns up to max ids of sagas named saga that are running
	// under an expired lease: their process has stopped. A caller then
	// Claims each; a live process renewing in the meantime wins.
	Abandoned(ctx context.Context, saga string, max int) ([]string, error)
}

// Claim is the answer of Log.Claim.
type Claim struct {
	// Token is the fencing token of the lease now held; 0 when the saga is
	// finished (nothing was claimed).
	Token int64
	// Created reports that the saga was new and the given entries written.
	Created bool
	// Record is the saga's log when it was taken over or is finished; nil
	// when Created.
	Record *Record
}

// Record is one saga's log.
type Record struct {
	Saga, ID string
	// Status is Running until the Finished entry is written.
	Status Status
	// Entries are the transitions in the order they happened.
	Entries []Entry
}

// EntryKind is the kind of a transition.
type EntryKind int

// The transitions of a saga, in the order they can happen.
const (
	// Started: the saga was created with its input data.
	Started EntryKind = iota + 1
	// StepBegun: the step's action is about to run. If the process dies
	// before StepDone or StepFailed, the action may or may not have run.
	StepBegun
	// StepDone: the step's action succeeded.
	StepDone
	// StepFailed: the step's action failed for good (all tries used, or a
	// Permanent error, or the caller's context ended).
	StepFailed
	// CompensationBegun: the step's compensation is about to run.
	CompensationBegun
	// CompensationDone: the step's compensation succeeded.
	CompensationDone
	// CompensationFailed: the step's compensation gave up; the saga ends
	// Failed.
	CompensationFailed
	// Finished: the saga ended with Entry.Status.
	Finished
	// Retrying is seen by observers only, never logged: an attempt of an
	// action or compensation failed and another will follow after a
	// backoff. Entry.Attempts is the failed attempt's number.
	Retrying
)

var kindNames = [...]string{
	Started: "started", StepBegun: "step-begun", StepDone: "step-done",
	StepFailed: "step-failed", CompensationBegun: "compensation-begun",
	CompensationDone: "compensation-done", CompensationFailed: "compensation-failed",
	Finished: "finished", Retrying: "retrying",
}

// String returns the kind's name, e.g. "step-done".
func (k EntryKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("EntryKind(%d)", int(k))
}

func kindByName(s string) (EntryKind, bool) {
	for k, n := range kindNames {
		if n == s && n != "" {
			return EntryKind(k), true
		}
	}
	return 0, false
}

// Entry is one transition in a saga's log.
type Entry struct {
	Kind EntryKind
	// Step is the step's index (from 0) and StepName its name; -1 and ""
	// for Started and Finished.
	Step     int
	StepName string
	// Attempts and Duration: the tries made and the time they took, from
	// the first try's start to the last's end (backoff waits included; a
	// Saga on a MemoryLog times from the StepBegun or CompensationBegun
	// entry's At, the instant before the first try, to save a clock
	// read), on
	// StepDone, StepFailed, CompensationDone and CompensationFailed.
	Attempts int
	Duration time.Duration
	// Err is the error's message on StepFailed, CompensationFailed and
	// Finished (for Compensated and Failed sagas).
	Err string
	// Status is the saga's end status on Finished.
	Status Status
	// Data is the JSON of the saga's data T as of this transition.
	Data []byte
	// At is when the transition happened, by the saga's clock.
	At time.Time
	// Metadata is what the WithMetadata function returned when the saga
	// started, on the Started entry; nil on the others, and without
	// WithMetadata. A Log keeps it with the entry.
	Metadata map[string]string
}

// Status is how a saga ended, or Running if it has not.
type Status int

const (
	// Running: the saga has not finished. A Result has it only when
	// Execute stopped early (the log failed, or the lease was lost); the
	// saga is then finished by Recover.
	Running Status = iota
	// Completed: every step succeeded.
	Completed
	// Compensated: a step failed and the steps done before it were undone.
	Compensated
	// Failed: a compensation could not be completed; the saga is stuck
	// half-done and an operator must act. Its log is kept.
	Failed
)

var statusNames = [...]string{Running: "running", Completed: "completed", Compensated: "compensated", Failed: "failed"}

// String returns the status's name, e.g. "compensated".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

func statusByName(n string) (Status, bool) {
	for s, name := range statusNames {
		if name == n {
			return Status(s), true
		}
	}
	return 0, false
}
