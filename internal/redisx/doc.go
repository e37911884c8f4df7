// Package redisx is the one Redis layer every package of this module calls
// Redis through: a bounded call (Bound.Eval, Do, Run) that pipelines
// concurrent script calls, one pub/sub listener with one health policy
// (Listen), key and name validation (CheckPrefix, CheckName) and integer
// reply parsing (Int64, ParseInt).
//
// # Bounded calls
//
// go-redis applies a ctx deadline to socket reads and writes only when the
// client was built with ContextTimeoutEnabled (off by default); otherwise a
// frozen server holds a call for the client's whole ReadTimeout (3s by
// default), whatever ctx says. A Bound returns by its timeout or ctx's
// deadline, whichever is sooner, on every client:
//
//   - on a client that honours ctx deadlines the call runs inline under a
//     ctx that carries the bound;
//   - on any other client the call runs on a pooled worker goroutine while
//     the caller waits on its ctx and a pooled timer, so the wait costs no
//     allocation; an abandoned call ends at the client's ReadTimeout, and
//     its result is dropped.
//
// A call that was abandoned may still have been executed by Redis: the
// outcome is unknown, never "did not happen".
//
// # Pipelining
//
// Every Bound made by NewBound for a *redis.Client (failover clients
// included) or a *redis.ClusterClient shares that client's coalescer,
// whichever package made it, and Bound.Eval goes through it:
//
//   - a call that finds fewer than two calls or pipelines of its client on
//     their way goes straight out, on its own, exactly as without a
//     coalescer: one goroutine's calls never wait for company, and there
//     is no timer window;
//   - a call that finds two out queues, and the queue leaves as one
//     pipeline (at most 256 calls) when one of them comes back, on a
//     worker goroutine; on the Cluster, go-redis splits a pipeline by
//     node (hash slot) and sends the parts in parallel;
//   - each caller still waits on its own bound: a call whose caller gave
//     up before it left is dropped, and one given up on in flight has its
//     reply discarded, never delaying anyone else's. The pipeline itself
//     runs under a ctx that ends with its most patient caller's deadline;
//   - a script a node has forgotten (SCRIPT FLUSH, a restart, a Cluster
//     node that never saw it) fails with NOSCRIPT in its own slot of the
//     pipeline only; those calls go again as EVAL, which loads the script
//     on whichever node each lands on, in one second pipeline;
//   - go-redis reads a pipeline's replies under one ReadTimeout and, like a
//     single call, sends it again after a network error (MaxRetries): a
//     pipeline that times out has the unknown outcome of a timed-out call,
//     for each call in it;
//   - calls made with EvalMerged and one Merge (a package's script that
//     can decide many keys in one run, as ratelimit's buckets do) go as
//     one script call per pipeline, per hash slot on the Cluster: Redis
//     pays one script call, not one per call, and each caller gets its
//     own element of the reply, or its own error;
//   - at most 8192 calls of one client wait for a pipeline; past that a
//     call fails at once with ErrOverloaded, so a Redis that stopped
//     answering cannot grow the queue without bound.
//
// # Who may touch a call's keys and args, and when
//
// A call's keys and args (and whatever they point to) belong to the call
// until it is done with them; go-redis copies the arg values into its
// command, but reads keys and args again for the EVAL that follows a
// NOSCRIPT, and a call given up on at its deadline (queued for a pipeline,
// riding one, or running on a worker) is still sent, or sent again, after
// its caller got its error. So:
//
//   - Eval's keys and args must not be modified until its owner (a
//     Releaser; may be nil) is released. Owner is released exactly once:
//     before Eval returns, unless Eval returns because the caller's ctx or
//     the bound ran out; then possibly later, when go-redis is done. A caller that pools its keys
//     and args pools them in Release, never at return; one that does not
//     pool them passes a nil owner and fresh slices.
//   - Command's args and Do's and Run's closures have no owner: give them
//     values that nothing modifies afterwards (a fresh slice per call).
//
// Reusing a given-up call's args at return makes the call run with
// whatever was written there, and a pooled slice reused by another call
// makes that other call's answer wrong too (TestEvalArgsAreNotReadAfterRelease
// checks the rule under -race, with deadlines expiring mid-pipeline and
// SCRIPT FLUSH; breaking it fails there at once).
//
// Only Eval is pipelined: Do and Run take arbitrary functions, which may
// send several commands or block (XREAD, BLMOVE), and stay plain calls.
// A pipelined call runs under the pipeline's ctx, not the caller's: values
// in the caller's ctx (trace spans of go-redis hooks) are not seen by it.
// Bound.WithoutPipelining opts a bound out; every package offers that as
// a WithoutPipelining option of its Redis constructors. A *redis.Ring or
// an unknown UniversalClient is never pipelined.
//
// Why not go-redis's AutoPipeline (v9.22, experimental): it sends a lone
// call through its batching queue too, which costs a single goroutine
// about 2.5 times the latency of a plain call; once a command is queued it
// no longer honours the caller's ctx, so the per-call bound would need our
// worker anyway; and its scripts need the NOSCRIPT handling done here
// regardless. The coalescer here is about 250 lines over Pipeline, with
// the same adaptive batching and no delay for a lone call.
package redisx
