// Package analytics records the clicks of the URL shortener's links and
// answers their statistics, composing package pubsub (a click never waits
// for storage) and package cqrs (clicks are events; statistics are a
// projection that can be rebuilt from them).
//
// Changes to the contract with package shortener (additions only; the
// agreed shape compiles as it was): Config.Browsers, EnableBrowsers,
// Stats.Browsers and Stats.BrowsersPartial (the statistic added after
// launch and backfilled with Rebuild: the demo calls EnableBrowsers, shows
// Stats.BrowsersPartial, calls Rebuild, shows the full counts); Flush (wait
// until what was recorded is in the statistics, for tests and the tour);
// Lag; Counters; Config.Observer and Event; Config.Reset (the shortener
// passes one that resets a code on link-created and link-deleted). Record
// never blocks: a full buffer drops the click with ErrOverloaded at once,
// which the redirect should ignore (counted in Counters.Overloaded).
//
// The path of a click:
//
//	redirect ─Record→ buffer ─publishers (batching)→ bus "urlshortener.click.<code>"
//	  ─group "urlshortener-analytics"→ event store (stream per link and day)
//	  ─Runner→ read model (per link: totals, bots, referrers, days, hours)
//
// Record costs the redirect a channel send: the click waits in a bounded
// buffer (DefaultBufferSize) that DefaultPublishers goroutines drain.
// With a *pubsub.Redis bus the consumers form a durable group: a published
// click survives any crash, and is stored by whichever instance reads it
// first. Delivery is at least once, so each batch carries an id and is
// appended with it: a redelivery is stored once (see cqrs.Event.WithID).
// The projection is a cqrs read model (memory, or Redis when Config.Redis
// is set, shared by the fleet with its checkpoint), applied exactly once per
// event.
//
// # Batching
//
// A click does not travel alone. Each publisher collects the clicks it
// takes from the buffer, for at most DefaultBatchWindow after the first
// or until it holds DefaultBatchSize, into one batch per link and UTC day,
// in which clicks alike (same minute, referrer host and user agent) are one
// group with a count. A batch is one bus message, one event in the store
// (EventClicks, in the link's stream of that day) and one update of the
// link's statistics, however many clicks it holds: under load the pipeline
// costs per link and batch, not per click, so it does not compete with the
// redirects for CPU (or Redis). Nothing is lost by it: every click is in a
// group with its minute, host and user agent, so counts stay exact (stats
// totals equal the redirects served, once the pipeline drained) and
// Rebuild computes any statistic of those fields from the whole history.
// The price is DefaultBatchWindow more delay before a click shows in the
// statistics, and that a crash loses the batches being collected (at most
// DefaultPublishers × DefaultBatchSize clicks) besides the buffer.
//
// Stores written before batching hold one event per click (EventClicked):
// the projection counts both types, so Rebuild over such a mixed history
// counts every click once; single-click messages an older instance still
// publishes are stored as before.
//
// Happy path:
//
//	a, _ := analytics.New(analytics.Config{Bus: bus, Store: store})
//	_ = a.Start(ctx)
//	defer a.Close(ctx)
//	_ = a.Record(ctx, analytics.Click{Code: "abc1234", Referrer: r.Referer(), UserAgent: r.UserAgent()})
//	st, _ := a.Stats(ctx, "abc1234") // st.Total, st.Days, st.Referrers, st.Lag
//
// # What is kept
//
// Per click: the code, the minute, the referrer's host only (a referring
// URL's path and query may hold tokens) and the user agent truncated to
// MaxUserAgentLen; clicks alike in all of those are counted together (see
// Batching). Bots (IsBot: a short list of markers that crawlers, link
// previewers and HTTP libraries announce, and an empty user agent) are
// counted apart; every other statistic counts human clicks. Each link's
// statistics are bounded: MaxDays days, the last HoursKept hours, and
// MaxReferrers hosts (further ones count under OtherReferrers).
//
// # Adding a statistic later
//
// The events keep the user agent, so a statistic nobody thought of at
// launch can be computed from the whole history. Stats.Browsers is that
// statistic: EnableBrowsers turns it on, from the next click on
// (Stats.BrowsersPartial is true), and Rebuild re-runs the projection from
// the first event into a hidden copy, swapped in when it has caught up, so
// the statistic then covers every click ever recorded.
//
// # Failures and shutdown
//
// A bus that fails is retried for DefaultPublishPatience per batch, then
// its clicks are lost, logged and counted (Counters.Lost; Event.Clicks
// says how many); a bus that is down long fills the buffer and Record
// fails fast with ErrOverloaded, so the redirect never waits for the bus:
// under overload clicks are dropped, counted (Counters.Overloaded) and
// reported, rather than redirects slowed. A store that fails has the bus
// retry the batch with backoff, then dead-letter it. Close stops
// recording, publishes the buffer, and on an in-process bus waits until
// every click is stored: nothing recorded is lost on a graceful shutdown.
// A crash loses at most the buffer's clicks and the batches being
// collected (and, on the memory bus, everything in flight).
package analytics
