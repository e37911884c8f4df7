package saga

import "context"

// StepInfo tells an Action or Compensate which saga execution and step it
// runs for.
type StepInfo struct {
	Saga, ID string
	// Step is the step's name and Index its position, from 0.
	Step  string
	Index int
	// Attempt counts the tries of this Action (or Compensate) in this
	// process, from 1.
	Attempt int
	// Compensating is true inside Compensate.
	Compensating bool
}

type infoKey struct{}

// stepCtx is the context of one try of a step: its parent plus the
// StepInfo, in one allocation.
type stepCtx struct {
	context.Context
	info StepInfo
}

func (c *stepCtx) Value(key any) any {
	if _, ok := key.(infoKey); ok {
		return &c.info
	}
	return c.Context.Value(key)
}

// Info returns the StepInfo of the step ctx was handed to, and false
// outside a saga step.
func Info(ctx context.Context) (StepInfo, bool) {
	i, ok := ctx.Value(infoKey{}).(*StepInfo)
	if !ok {
		return StepInfo{}, false
	}
	return *i, true
}

// StepKey returns "saga/id/step", a key unique to this step of this saga
// execution and the same on every try, in every process: the idempotency
// key for the step's side effect (and, with a suffix such as "/undo", for
// its compensation's). It is "" outside a saga step.
func StepKey(ctx context.Context) string {
	i, ok := ctx.Value(infoKey{}).(*StepInfo)
	if !ok {
		return ""
	}
	return i.Saga + "/" + i.ID + "/" + i.Step
}
