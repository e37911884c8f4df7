// Package redisx is the one Redis layer every package of this module calls
// Redis through: a bounded call (Bound.Eval, Do, Run), one pub/sub
// listener with one health policy (Listen), key and name validation
// (CheckPrefix, CheckName) and integer reply parsing (Int64, ParseInt).
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
package redisx
