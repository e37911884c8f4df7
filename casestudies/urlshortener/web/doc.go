// Package web renders the URL shortener's pages on the server with
// html/template: the home page with the shorten form, and a link's
// statistics page with a clicks-per-day bar chart drawn as inline SVG and
// the top referrers. Templates and the stylesheet are embedded (embed), so
// the binary is the whole site; pages make no request to another origin
// (no CDN fonts, no scripts at all) and say so in their
// Content-Security-Policy.
//
// Package shortener owns the routes and calls Pages:
//
//	pages, _ := web.New()
//	mux.Handle("GET /static/", http.StripPrefix("/static/", pages.Assets()))
//	pages.Home(w, http.StatusOK, web.HomeData{})                      // GET /
//	pages.Home(w, http.StatusBadRequest, web.HomeData{URL: raw, Error: msg, Field: "url"})
//	pages.Stats(w, web.StatsData{Code: code, Stats: st, ...})          // GET /{code}+
//	pages.Error(w, http.StatusGone, "This link has expired.")          // a browser's error page
//
// Everything a user typed (a URL, an alias) or a client sent (a referrer)
// is escaped by html/template for its context; a target URL with a scheme
// other than http(s) is rendered as "#ZgotmplZ", never as a live link.
package web
