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
	// Metadata is what the WithMetadata function returned when this
	// execution started, read back from the log when another process
	// finishes it; nil without WithMetadata. Treat it as read-only: every
	// step of the execution shares it.
	Metadata map[string]string
}

type infoKey struct{}

// sagaSteps names a Saga and its steps, for step contexts: made once by
// New, never changed.
type sagaSteps struct {
	saga  string
	steps []string
}

// stepExec is what the step contexts of one execution share. It lives in
// the execution's allocation, never in a pooled run: a step may keep its
// context.
type stepExec struct {
	names *sagaSteps
	id    string
	meta  map[string]string
}

// stepCtx is the context of one try of a step: its parent plus where it
// runs, in a few words rather than a StepInfo (the first tries' contexts
// are part of every execution's allocation); Info builds the StepInfo.
type stepCtx struct {
	context.Context
	x       *stepExec
	index   int32
	attempt int32
	comp    bool
}

func (c *stepCtx) Value(key any) any {
	if _, ok := key.(infoKey); ok {
		return c
	}
	return c.Context.Value(key)
}

func (c *stepCtx) info() StepInfo {
	return StepInfo{Saga: c.x.names.saga, ID: c.x.id, Step: c.x.names.steps[c.index], Index: int(c.index),
		Attempt: int(c.attempt), Compensating: c.comp, Metadata: c.x.meta}
}

// Info returns the StepInfo of the step ctx was handed to, and false
// outside a saga step.
func Info(ctx context.Context) (StepInfo, bool) {
	c, ok := ctx.Value(infoKey{}).(*stepCtx)
	if !ok {
		return StepInfo{}, false
	}
	return c.info(), true
}

// StepKey returns "saga/id/step", a key unique to this step of this saga
// execution and the same on every try, in every process: the idempotency
// key for the step's side effect. Compensate sees the same key: undo the
// effect recorded under it (a refund by charge key), rather than derive a
// second key from it, which another step's key could equal. Saga and step
// names cannot contain '/' (New refuses them), so two different
// (saga, id, step) never share a key, whatever the id holds. It is ""
// outside a saga step.
func StepKey(ctx context.Context) string {
	c, ok := ctx.Value(infoKey{}).(*stepCtx)
	if !ok {
		return ""
	}
	return c.x.names.saga + "/" + c.x.id + "/" + c.x.names.steps[c.index]
}
