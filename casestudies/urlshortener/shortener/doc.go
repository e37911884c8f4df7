// Package shortener is the URL shortener service of the case study: an
// http.Handler composed from this module's packages — ratelimit in front of
// every route, cqrs for the links' lifecycle, cache for resolution, pubsub
// (through package analytics) for clicks — on memory for one process or on
// Redis for a fleet.
//
//	srv, err := shortener.New(shortener.Config{BaseURL: "https://sho.rt"})
//	if err != nil { … }
//	if err := srv.Start(ctx); err != nil { … }  // projection runner, analytics
//	http.ListenAndServe(addr, srv.Handler())
//	defer srv.Shutdown(ctx)                     // stops them, flushes clicks
//
// # Routes
//
//   - POST /api/links {"url", "alias"?, "expires_in"?, "max_visits"?}: 201 with
//     {code, short_url, url, created_at, expires_at?}; the same normalised URL
//     again (no alias, expiry or visit limit) is 200 with the same code.
//   - GET /{code}: 302 to the target (301 with Config.Permanent), 404 for an
//     unknown code, 410 for an expired link or one whose visits are used up.
//   - GET /api/links/{code}: the link; GET /api/links/{code}/stats: its clicks.
//   - DELETE /api/links/{code}: 204; needs "Authorization: Bearer <key>" when
//     Config.APIKey is set.
//   - GET /: the form; POST /: the form's result; GET /{code}+: the stats page;
//     /static/: the pages' assets. GET /healthz: 200 "ok".
//
// Errors are JSON, {"error": "...", "field": "..."}, naming the offending
// field; nothing a client sends can cause a 500.
//
// # How it avoids the classic mistakes
//
//   - Codes are not a hash of the URL (truncated hashes collide) and not a
//     bare counter (enumerable): a counter (atomic, or Redis INCR) through a
//     keyed bijection (package codes), so two links never share a code and
//     nobody can list or count them.
//   - Deduplication is exact: an MD5 of the normalised URL names a small
//     event stream of (URL, code) pairs, and the full URL is compared, so an
//     MD5 collision gives two codes, never one code for two URLs. Claims on
//     that stream are appended with optimistic concurrency, so 100 concurrent
//     creates of one URL give one code.
//   - max_visits is exact: the visit is taken by one atomic step (a mutex in
//     memory, one Lua script on Redis) before the redirect is sent.
//   - 302 by default: a 301 is cached by browsers, which then stop asking,
//     and the clicks stop being counted (and the link cannot be deleted or
//     expire for them).
//   - Clicks never slow a redirect: they are handed to analytics, which
//     publishes them and projects statistics off the request path.
//
// # Failure behaviour
//
// Resolution is cache-aside through a local LRU (in front of Redis with
// -redis, invalidated across instances on delete), with negative caching of
// unknown codes. While Redis is down, redirects of links in the local tier
// keep working (from the last copies this instance resolved, see Config.CacheTTL);
// a create answers 503 with a JSON error within Config.WriteTimeout (plus,
// for the first request, the Redis rate limiter's bound before it falls back
// to a local limit). A create writes its deduplication claim before its link, and a
// later create of the same URL completes a claim whose link is missing, so an
// outage between the two writes leaves nothing a client can see half-done.
package shortener
