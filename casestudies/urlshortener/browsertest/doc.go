// Package browsertest drives the URL shortener's web pages in a real
// headless Chromium (chromedp): it submits the shorten form, follows the
// short link with a Referer, opens the link's statistics page and checks
// that the chart shows the click. It is a module of its own, so chromedp
// never reaches the library's go.mod.
//
// Run it with `cd casestudies/urlshortener/browsertest && go test ./...`.
// It needs a Chromium binary (CHROMIUM, else chromium, chromium-browser,
// google-chrome on PATH); without one the test skips, unless CI=true, where
// it fails.
package browsertest
