package shortener

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Analytics returns the analytics the Server records clicks with.
func (s *Server) Analytics() Analytics { return s.analytics }

// tourClock is the tour's clock: real time plus an offset the tour moves
// forward, so a learner sees an hour-long expiry without waiting an hour.
type tourClock struct{ offset atomic.Int64 }

func (c *tourClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *tourClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// Tour starts the service described by cfg on a free 127.0.0.1 port, walks
// through it over real HTTP — create, dedup, redirect, clicks from three
// referrers, statistics, a rate-limited burst, expiry, a visit limit,
// a statistic backfilled by Rebuild, delete — printing what a learner
// should notice to w, and shuts it down. It returns an error when the
// service did not behave as the tour says (so a broken build fails
// `make demo`). cfg.BaseURL, Clock and APIKey are the tour's own.
func Tour(ctx context.Context, w io.Writer, cfg Config) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	clock := &tourClock{}
	cfg.BaseURL = "http://" + ln.Addr().String()
	cfg.Clock = clock.now
	cfg.APIKey = "tour-key"
	srv, err := New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	if err := srv.Start(ctx); err != nil {
		ln.Close()
		_ = srv.Shutdown(ctx)
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t := &tour{w: w, base: cfg.BaseURL, clock: clock, srv: srv, ctx: ctx,
		client: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	store := "in memory"
	if cfg.Redis != nil {
		store = "on Redis"
	}
	t.say("URL shortener tour: the service runs %s at %s\n", store, cfg.BaseURL)
	tourErr := t.run()

	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = errors.Join(hs.Shutdown(shutCtx), srv.Shutdown(shutCtx))
	if tourErr == nil && err == nil {
		t.say("\nGraceful shutdown: in-flight requests drained, pending clicks flushed to the event store. Tour complete.\n")
	}
	return errors.Join(tourErr, err)
}

// tour is one walk through the service.
type tour struct {
	ctx    context.Context
	w      io.Writer
	base   string
	clock  *tourClock
	srv    *Server
	client *http.Client
	code   string // the link the tour follows
}

func (t *tour) say(format string, args ...any) { fmt.Fprintf(t.w, format, args...) }

func (t *tour) step(n int, title string) { t.say("\n%d. %s\n", n, title) }

// call sends a request and decodes a JSON answer into out (when not nil).
func (t *tour) call(method, path string, body any, header map[string]string, out any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.ctx, method, t.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", tourBrowser)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if out != nil && len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp, nil
}

// expect fails the tour when a status is not the one the narrative promises.
func expect(what string, resp *http.Response, want int) error {
	if resp.StatusCode != want {
		return fmt.Errorf("tour: %s answered %d, expected %d", what, resp.StatusCode, want)
	}
	return nil
}

func (t *tour) run() error {
	for _, part := range []func() error{t.createAndDedup, t.clicksAndStats, t.expiry, t.visitLimit, t.burst, t.backfill, t.remove} {
		if err := part(); err != nil {
			return err
		}
	}
	return nil
}

// tourBrowser is the user agent of the tour's requests: a browser's, so
// its clicks count as human.
const tourBrowser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"

// tourURL is the link the tour follows throughout.
const tourURL = "https://go.dev/doc/effective_go"

func (t *tour) createAndDedup() error {
	t.step(1, "Create a short link")
	var l linkJSON
	resp, err := t.call("POST", "/api/links", map[string]any{"url": tourURL}, nil, &l)
	if err != nil {
		return err
	}
	if err := expect("create", resp, http.StatusCreated); err != nil {
		return err
	}
	t.say("   POST /api/links {\"url\": %q}\n   → %d %s: code %s, short URL %s\n", tourURL, resp.StatusCode, http.StatusText(resp.StatusCode), l.Code, l.ShortURL)
	t.say("   The code is a counter passed through a keyed Feistel permutation of the 62^7 seven-character codes:\n" +
		"   unique without a retry loop, yet the next one cannot be guessed from this one (try -sequential to compare).\n")

	t.step(2, "Create it again, spelled differently")
	var again linkJSON
	spelled := "HTTPS://GO.DEV:443/doc/effective_go"
	resp, err = t.call("POST", "/api/links", map[string]any{"url": spelled}, nil, &again)
	if err != nil {
		return err
	}
	if err := expect("dedup", resp, http.StatusOK); err != nil {
		return err
	}
	if again.Code != l.Code {
		return fmt.Errorf("tour: dedup gave %s, expected %s", again.Code, l.Code)
	}
	t.say("   POST %q → %d with the same code %s.\n", spelled, resp.StatusCode, again.Code)
	t.say("   The normalised URL's MD5 picks a dedup stream and the full URL is compared inside it,\n" +
		"   so a hash collision can never merge two URLs.\n")

	t.step(3, "Follow the short link")
	resp, err = t.call("GET", "/"+l.Code, nil, nil, nil)
	if err != nil {
		return err
	}
	if err := expect("redirect", resp, http.StatusFound); err != nil {
		return err
	}
	t.say("   GET /%s → %d Location: %s\n", l.Code, resp.StatusCode, resp.Header.Get("Location"))
	t.say("   302, not 301: browsers cache a 301 forever, so later clicks would never reach us to be counted.\n")
	t.code = l.Code
	return nil
}

func (t *tour) clicksAndStats() error {
	t.step(4, "Clicks from three referrers (and a crawler)")
	browser := tourBrowser
	clicks := []struct{ ref, ua string }{
		{"https://news.ycombinator.com/item?id=1", browser}, {"https://news.ycombinator.com/item?id=2", browser},
		{"https://www.reddit.com/r/golang/", browser}, {"", browser},
		{"", "Googlebot/2.1 (+http://www.google.com/bot.html)"},
	}
	for _, c := range clicks {
		resp, err := t.call("GET", "/"+t.code, nil, map[string]string{"Referer": c.ref, "User-Agent": c.ua}, nil)
		if err != nil {
			return err
		}
		if err := expect("click", resp, http.StatusFound); err != nil {
			return err
		}
	}
	t.say("   5 more redirects answered at once; each click was handed to analytics without waiting for storage:\n")
	t.say("   batched per link (one pubsub message and one cqrs event per batch, not per click).\n")

	t.step(5, "Statistics")
	st, err := t.stats(5)
	if err != nil {
		return err
	}
	t.say("   GET /api/links/%s/stats → %d human clicks, %d bot kept apart, lag %d\n", t.code, st.Total, st.Bots, st.Lag)
	for _, r := range st.Referrers {
		t.say("     referrer %-22s %d\n", r.Key, r.N)
	}
	for _, d := range st.Days {
		t.say("     day      %-22s %d\n", d.Key, d.N)
	}
	t.say("   The statistics are a cqrs projection of click events: %s/%s+ draws them as a chart.\n", t.base, t.code)
	return nil
}

// stats polls the stats endpoint until total human clicks reach want
// (the projection runs a moment behind the redirects).
func (t *tour) stats(want int64) (statsJSON, error) {
	var st statsJSON
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := t.call("GET", "/api/links/"+t.code+"/stats", nil, nil, &st)
		if err != nil {
			return st, err
		}
		if resp.StatusCode == http.StatusOK && st.Total >= want && st.Lag == 0 {
			return st, nil
		}
		if time.Now().After(deadline) {
			return st, fmt.Errorf("tour: stats stayed at %d clicks (lag %d), expected %d", st.Total, st.Lag, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (t *tour) burst() error {
	t.step(8, "A burst of creates from one address")
	created, limited := 0, 0
	var retry string
	n := t.srv.cfg.CreateRate + 5 // more than a minute's allowance, at once (the last creates of the tour)
	if n > 500 {
		t.say("   (skipped: -create-rate %d is too high to exhaust in a tour)\n", t.srv.cfg.CreateRate)
		return nil
	}
	for i := range n {
		resp, err := t.call("POST", "/api/links", map[string]any{"url": fmt.Sprintf("https://example.com/burst/%d", i)}, nil, nil)
		if err != nil {
			return err
		}
		switch resp.StatusCode {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
			limited++
			retry = resp.Header.Get("Retry-After")
		default:
			return fmt.Errorf("tour: burst create answered %d", resp.StatusCode)
		}
	}
	if limited == 0 {
		return errors.New("tour: the burst was never limited")
	}
	t.say("   %d creates: %d answered 201, %d answered 429 Too Many Requests with Retry-After: %ss.\n", n, created, limited, retry)
	t.say("   Creation is limited per client IP (-create-rate per minute, a token bucket); redirects have their own, looser limit.\n")
	return nil
}

// create creates a link; when rate-limited (the create limit is shared by
// everyone on this address) it waits as Retry-After says.
func (t *tour) create(body map[string]any, out any) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := t.call("POST", "/api/links", body, nil, out)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || attempt == 3 {
			return resp, err
		}
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		wait := time.Duration(max(1, min(secs, 60))) * time.Second
		t.say("   (still rate-limited: waiting %v, as Retry-After says)\n", wait)
		select {
		case <-time.After(wait):
		case <-t.ctx.Done():
			return nil, t.ctx.Err()
		}
	}
}

func (t *tour) expiry() error {
	t.step(6, "A link that expires")
	var l linkJSON
	resp, err := t.create(map[string]any{"url": "https://go.dev/blog/", "expires_in": "1h"}, &l)
	if err != nil {
		return err
	}
	if err := expect("create with expiry", resp, http.StatusCreated); err != nil {
		return err
	}
	first, err := t.call("GET", "/"+l.Code, nil, nil, nil)
	if err != nil {
		return err
	}
	t.clock.advance(time.Hour)
	later, err := t.call("GET", "/"+l.Code, nil, nil, nil)
	if err != nil {
		return err
	}
	if err := errors.Join(expect("before expiry", first, http.StatusFound), expect("after expiry", later, http.StatusGone)); err != nil {
		return err
	}
	t.say("   expires_in \"1h\": GET /%s → %d now; the tour moves the service's clock on an hour → %d %s.\n",
		l.Code, first.StatusCode, later.StatusCode, http.StatusText(later.StatusCode))
	return nil
}

func (t *tour) visitLimit() error {
	t.step(7, "A link good for 3 visits")
	var l linkJSON
	resp, err := t.create(map[string]any{"url": "https://go.dev/play/", "max_visits": 3}, &l)
	if err != nil {
		return err
	}
	if err := expect("create with max_visits", resp, http.StatusCreated); err != nil {
		return err
	}
	var got []string
	for range 4 {
		r, err := t.call("GET", "/"+l.Code, nil, nil, nil)
		if err != nil {
			return err
		}
		got = append(got, fmt.Sprint(r.StatusCode))
	}
	if strings.Join(got, " ") != "302 302 302 410" {
		return fmt.Errorf("tour: 4 visits of a 3-visit link answered %v", got)
	}
	t.say("   4 visits → %s: the count is taken atomically before each redirect (one Lua script on Redis),\n"+
		"   so even 1000 simultaneous clicks get exactly 3 redirects.\n", strings.Join(got, " "))
	return nil
}

// browsers is what analytics offers for a statistic added after launch.
type browsers interface{ EnableBrowsers() }

func (t *tour) backfill() error {
	t.step(9, "Add a statistic after launch, and backfill it")
	a, ok := t.srv.Analytics().(browsers)
	if !ok {
		t.say("   (skipped: this analytics has no late statistic)\n")
		return nil
	}
	a.EnableBrowsers()
	ua := "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/125.0"
	resp, err := t.call("GET", "/"+t.code, nil, map[string]string{"User-Agent": ua}, nil)
	if err != nil {
		return err
	}
	if err := expect("click", resp, http.StatusFound); err != nil {
		return err
	}
	st, err := t.stats(6)
	if err != nil {
		return err
	}
	t.say("   Per-browser counts switched on now: %s (partial: %v) — only the click since.\n", countList(st.Browsers), st.BrowsersPartial)
	if err := t.srv.Analytics().Rebuild(t.ctx); err != nil {
		return err
	}
	if st, err = t.stats(6); err != nil {
		return err
	}
	if st.BrowsersPartial {
		return errors.New("tour: browsers still partial after Rebuild")
	}
	t.say("   Rebuild replays every click event into a fresh projection: %s (partial: %v).\n", countList(st.Browsers), st.BrowsersPartial)
	t.say("   Event sourcing keeps the raw history, so a question asked late still gets a full answer.\n")
	return nil
}

func countList(c []countJSON) string {
	parts := make([]string, len(c))
	for i, x := range c {
		parts[i] = fmt.Sprintf("%s %d", x.Key, x.N)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func (t *tour) remove() error {
	t.step(10, "Delete the link")
	resp, err := t.call("DELETE", "/api/links/"+t.code, nil, nil, nil)
	if err != nil {
		return err
	}
	if err := expect("delete without key", resp, http.StatusUnauthorized); err != nil {
		return err
	}
	del, err := t.call("DELETE", "/api/links/"+t.code, nil, map[string]string{"Authorization": "Bearer tour-key"}, nil)
	if err != nil {
		return err
	}
	gone, err := t.call("GET", "/"+t.code, nil, nil, nil)
	if err != nil {
		return err
	}
	if err := errors.Join(expect("delete", del, http.StatusNoContent), expect("after delete", gone, http.StatusNotFound)); err != nil {
		return err
	}
	t.say("   DELETE without the API key → 401; with it → %d; GET /%s → %d (the cached copy went too).\n", del.StatusCode, t.code, gone.StatusCode)
	return nil
}
