package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// An http page: from https, a browser would drop the referrer on the way
// down to the plain-http short link (strict-origin-when-cross-origin).
const referrer = "http://news.example/article?id=42"

// TestFormShortLinkAndChart: a person shortens a URL with the form,
// follows the short link from another site, and sees the click on the
// link's statistics page.
func TestFormShortLinkAndChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tab := newBrowser(t, ctx)
	base := startServer(t)

	// The target is a page of another origin on this machine: following
	// the short link needs no network.
	landed := make(chan string, 1)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case landed <- r.URL.Path:
		default:
		}
		fmt.Fprint(w, "<!doctype html><title>Landing</title><h1 id=landing>Landed</h1>")
	}))
	defer target.Close()
	targetURL := strings.Replace(target.URL, "127.0.0.1", "localhost", 1) + "/landing/page"

	do(t, tab, "submit the form",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#url`)),
		chromedp.SendKeys(chromedp.CSS(`#url`), targetURL),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#short-url`)),
	)
	shortURL := get(t, tab, chromedp.Text(chromedp.CSS(`#short-url`)))
	statsHref := get(t, tab, chromedp.AttributeValue(chromedp.CSS(`#stats-link`), "href")).Value
	if !strings.HasPrefix(shortURL, base+"/") {
		t.Fatalf("short URL %q is not under %s", shortURL, base)
	}

	nav := get(t, tab, func(ctx context.Context, tg *chromedp.Target) (page.NavigateResult, error) {
		return cdp.Call(ctx, tg, page.Navigate, page.NavigateParams{URL: shortURL, Referrer: referrer})
	})
	if nav.ErrorText != "" {
		t.Fatalf("following the short link: %s", nav.ErrorText)
	}
	do(t, tab, "land on the target", chromedp.WaitVisible(chromedp.CSS(`#landing`)))
	select {
	case p := <-landed:
		if p != "/landing/page" {
			t.Fatalf("the target got %q", p)
		}
	default:
		t.Fatal("the short link did not reach the target")
	}

	// Clicks are counted asynchronously (bus, store, projection): reload
	// the statistics page until today's bar shows the click.
	today := time.Now().UTC().Format("2006-01-02")
	bar := fmt.Sprintf(`svg#clicks-per-day rect[data-day="%s"]`, today)
	statsURL := base + statsHref
	var clicks string
	for deadline := time.Now().Add(20 * time.Second); ; {
		do(t, tab, "open the statistics page",
			chromedp.Navigate(statsURL),
			chromedp.WaitVisible(chromedp.CSS(`svg#clicks-per-day`)),
		)
		clicks = get(t, tab, chromedp.AttributeValue(chromedp.CSS(bar), "data-clicks")).Value
		if clicks == "1" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if clicks != "1" {
		t.Fatalf("today's bar shows %q clicks, want 1", clicks)
	}
	tooltip := get(t, tab, chromedp.TextContent(chromedp.CSS(bar+` > title`)))
	height := get(t, tab, chromedp.AttributeValue(chromedp.CSS(bar), "height")).Value
	referrers := get(t, tab, chromedp.TextContent(chromedp.CSS(`#referrer-table tbody`)))
	if want := today + ": 1 click"; tooltip != want {
		t.Errorf("tooltip %q, want %q", tooltip, want)
	}
	if height == "" || height == "0.0" {
		t.Errorf("today's bar has height %q", height)
	}
	if !strings.Contains(referrers, "news.example") {
		t.Errorf("the referrer table %q does not name news.example", referrers)
	}
}

// do runs steps in the tab, failing the test with what was being done.
func do(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// get runs one action in the tab and returns its value.
func get[T any](t *testing.T, tab context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFormShowsTheErrorNextToTheField: a URL the service refuses comes back
// in the form, marked invalid, with the reason next to it.
func TestFormShowsTheErrorNextToTheField(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	tab := newBrowser(t, ctx)
	base := startServer(t)
	do(t, tab, "submit a refused URL",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#url`)),
		chromedp.SendKeys(chromedp.CSS(`#url`), "javascript:alert(1)"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#url-error`)),
	)
	invalid := get(t, tab, chromedp.AttributeValue(chromedp.CSS(`#url`), "aria-invalid")).Value
	described := get(t, tab, chromedp.AttributeValue(chromedp.CSS(`#url`), "aria-describedby")).Value
	kept := get(t, tab, chromedp.Value(chromedp.CSS(`#url`)))
	msg := get(t, tab, chromedp.Text(chromedp.CSS(`#url-error`)))
	if invalid != "true" || described != "url-error" {
		t.Errorf("the field is not marked: aria-invalid=%q aria-describedby=%q", invalid, described)
	}
	if kept != "javascript:alert(1)" {
		t.Errorf("the form lost what was typed: %q", kept)
	}
	if msg == "" {
		t.Error("no error message next to the field")
	}
	if n := get(t, tab, chromedp.Evaluate[int](`document.querySelectorAll('#short-url').length`)); n != 0 {
		t.Error("a refused URL got a short link")
	}
}
