// Package sagatest is the conformance suite of saga.Log: the cases every
// saga log must pass, whatever it stores its records in. saga's own memory
// and Redis logs run it; a third party's log (Postgres, DynamoDB, …) proves
// it can stand in for them by running it too:
//
//	func TestMyLogConforms(t *testing.T) {
//		sagatest.TestLog(t, sagatest.Features{}, func(t *testing.T) sagatest.Backend {
//			clock := newManualClock()
//			l := mylog.New(db, mylog.WithClock(clock.Now), mylog.WithRetention(time.Hour))
//			return sagatest.Backend{Log: l, Advance: clock.Advance, Retention: time.Hour}
//		})
//	}
//
// Each case gets a fresh, empty log from the factory and runs as a subtest
// named after it, so `go test -run 'TestMyLogConforms/takeover'` runs one.
// Cases is exported for a caller that wants to pick its own. Features
// declares what a backend cannot do; the cases that need it skip, saying
// why.
//
// The suite uses a manual clock of the caller's (Backend.Advance) for
// lease expiry and retention: a log under test must take "now" from a clock
// the factory can move.
package sagatest
