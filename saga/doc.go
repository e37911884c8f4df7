// Package saga runs sagas: business transactions that span services or
// databases which cannot share one ACID transaction, made of steps that
// each commit on their own and, when a later step fails, are undone by
// compensating steps, newest first. A saga here is orchestrated: one
// definition, run by one process at a time, which writes every transition
// to a log before acting on it, so that another process can finish the
// saga if this one crashes.
//
// The happy path:
//
//	s, err := saga.New("order", []saga.Step[Order]{
//		{Name: "reserve", Action: reserve, Compensate: release},
//		{Name: "charge", Action: charge, Compensate: refund},
//		{Name: "confirm", Action: sendConfirmation},
//	}, saga.WithLog(redisLog))
//	res, err := s.Execute(ctx, order.ID, order) // err wraps ErrCompensated when a step failed and was undone
//
// # When to use it
//
// Use a saga when one request must change several systems that each have
// their own transactions (inventory, payments, e-mail) and "all or
// nothing" may be reached by undoing: a reservation can be released, a
// charge refunded. Do not use it when one database transaction would do,
// or when others must never see the intermediate state: a saga is atomic
// in the end, not isolated — between steps, and while compensating, other
// readers see a reservation that may yet be released.
//
// # Semantics
//
// Steps run in order on a shared *T: what a step records in it (a
// reservation id) is seen by later steps and by compensations. When step k
// fails, Compensate of steps k-1 … 0 runs, in reverse; steps without
// Compensate are skipped. Each step's Action has a Policy (tries, per-try
// timeout, backoff; WithActionPolicy, WithStepPolicy): only when its tries
// run out does the step count as failed. A compensation is retried with
// capped exponential backoff and full jitter (WithCompensationPolicy) and
// runs on a context that the caller's cancellation does not reach; if it
// still fails, the saga ends Failed, its log is kept, the error names the
// step, and WithOnFailed's hook fires: an operator must act. An error
// wrapped with Permanent is not retried.
//
// Execute returns a Result (status, per-step outcome with attempts,
// durations and errors) and an error that is nil only when the saga
// Completed. WithObserver sees every transition as it is logged, for logs
// and metrics; WithLogger logs what an operator must see (retries,
// compensations that gave up, recoveries) to an *slog.Logger; Saga.Stats
// counts outcomes, retries, replays and recoveries.
//
// # The log, crashes and Recover
//
// Every transition — started, step k begun, done or failed, compensation
// of k begun, done or failed, finished — is written to the Log, with the
// JSON of T, before the next Action or Compensate runs. Transitions with
// no action between them (step k done and step k+1 begun) are written in
// one call, so a 3-step saga costs 4 log writes. MemoryLog keeps the log
// in the process (the default); RedisLog (NewRedisLog) in Redis, where
// another process can read it.
//
// A process holds each saga it runs under a lease with a fencing token,
// renewed by every write and by a heartbeat while a step runs (WithLease).
// Execute of an id that another process holds is refused (ErrRunning);
// of an id that finished, it returns the recorded Result and runs nothing.
// When a process dies, its sagas' leases expire, and Recover, in any
// process, takes them over and finishes them: by default it compensates
// what was done (RollBack); WithRecovery(RollForward) makes it carry on
// instead. Should the dead process come back, its next write fails with
// ErrLeaseLost and it stops.
//
// # Idempotency: at least once per step
//
// A log written before each action cannot say whether an action whose
// "begun" was logged, but whose "done" was not, took effect: the process
// may have died just before or just after it. So after a crash a step's
// Action may run again (RollForward), and a Compensate may be asked to
// undo an Action that never ran, seeing the data as it was before that
// step began (RollBack). Retries after a timeout raise the same question.
// Steps therefore run at least once, and exactly-once effects come from
// making them idempotent with StepKey(ctx), a key that is the same for a
// step of one saga execution in every try and every process:
//
//	func charge(ctx context.Context, o *Order) error {
//		id, err := payments.Charge(ctx, o.Card, o.Total, saga.StepKey(ctx)) // the provider dedupes by key
//		o.ChargeID = id
//		return err
//	}
//
//	func refund(ctx context.Context, o *Order) error {
//		// Look the charge up by key, not by o.ChargeID: after a crash o
//		// may predate the charge. No charge under the key: nothing to do,
//		// but record the refund so that a late duplicate charge is refused.
//		return payments.RefundByKey(ctx, saga.StepKey(ctx))
//	}
//
// With actions and compensations written so, every side effect of a saga
// ends done exactly once, or undone, whatever crashes in between (the
// package's tests crash a saga at every transition and check just that).
//
// # Trade-offs
//
// The log costs a write per transition: microseconds in memory, one Redis
// round trip per write on Redis. Leases trade recovery time against
// spurious takeovers: a process cut off from the log for longer than the
// lease loses its sagas to others (and stops at its next write). Running
// sagas stay in the log until they finish; finished ones for the log's
// retention (WithRetention), within which their ids are not run again.
package saga
