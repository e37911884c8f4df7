package analytics_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

func Example() {
	ctx := context.Background()
	bus := pubsub.NewMemory()
	defer bus.Close()
	a, err := analytics.New(analytics.Config{Bus: bus, Store: cqrs.NewMemoryStore()})
	if err != nil {
		panic(err)
	}
	if err := a.Start(ctx); err != nil {
		panic(err)
	}
	defer a.Close(ctx)

	at := time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)
	for _, c := range []analytics.Click{
		{Code: "abc1234", At: at, Referrer: "https://news.example/item?id=1", UserAgent: "Mozilla/5.0 Firefox/133.0"},
		{Code: "abc1234", At: at, UserAgent: "Mozilla/5.0 Chrome/131.0 Safari/537.36"},
		{Code: "abc1234", At: at, UserAgent: "Googlebot/2.1"},
	} {
		_ = a.Record(ctx, c) // in a redirect handler: never fails the redirect
	}
	_ = a.Flush(ctx) // tests and tools only: wait until the clicks are counted

	st, _ := a.Stats(ctx, "abc1234")
	fmt.Println("clicks:", st.Total, "bots:", st.Bots)
	fmt.Println("referrers:", st.Referrers)
	fmt.Println("days:", st.Days)
	// Output:
	// clicks: 2 bots: 1
	// referrers: [{direct 1} {news.example 1}]
	// days: [{2026-03-14 2}]
}

// A statistic added after launch is backfilled from the click history.
func ExampleAnalytics_Rebuild() {
	ctx := context.Background()
	bus := pubsub.NewMemory()
	defer bus.Close()
	a, _ := analytics.New(analytics.Config{Bus: bus, Store: cqrs.NewMemoryStore()})
	_ = a.Start(ctx)
	defer a.Close(ctx)

	_ = a.Record(ctx, analytics.Click{Code: "abc1234", UserAgent: "Mozilla/5.0 Firefox/133.0"})
	_ = a.Flush(ctx)
	a.EnableBrowsers() // the new release counts browsers…
	_ = a.Record(ctx, analytics.Click{Code: "abc1234", UserAgent: "Mozilla/5.0 Chrome/131.0 Safari/537.36"})
	_ = a.Flush(ctx)
	st, _ := a.Stats(ctx, "abc1234")
	fmt.Println(st.Browsers, "partial:", st.BrowsersPartial)

	_ = a.Rebuild(ctx) // …and recounts the history
	st, _ = a.Stats(ctx, "abc1234")
	fmt.Println(st.Browsers, "partial:", st.BrowsersPartial)
	// Output:
	// [{chrome 1}] partial: true
	// [{chrome 1} {firefox 1}] partial: false
}
