module github.com/sysdesign/patterns/casestudies/urlshortener/browsertest

// A module of its own, as benchmarks/ is: chromedp never reaches the
// library's users.
go 1.26.0

replace github.com/sysdesign/patterns => ../../../

require (
	github.com/chromedp/cdproto v0.160.1
	github.com/chromedp/chromedp v0.24.0
	github.com/sysdesign/patterns v0.0.0-00010101000000-000000000000
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/redis/go-redis/v9 v9.22.0 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
