package browsertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
	"github.com/sysdesign/patterns/casestudies/urlshortener/web"
	"github.com/sysdesign/patterns/cqrs"
	"github.com/sysdesign/patterns/pubsub"
)

// startServer is a STAND-IN until shortener compiles: web + analytics
// wired by hand.
func startServer(t *testing.T) string {
	t.Helper()
	bus := pubsub.NewMemory()
	a, err := analytics.New(analytics.Config{Bus: bus, Store: cqrs.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	pages, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	links := map[string]string{}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.StripPrefix("/static/", pages.Assets()))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { pages.Home(w, 200, web.HomeData{}) })
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		code := "c" + string(rune('a'+len(links)))
		links[code] = r.FormValue("url")
		mu.Unlock()
		pages.Home(w, 201, web.HomeData{URL: r.FormValue("url"), ShortURL: base + "/" + code, Code: code})
	})
	mux.HandleFunc("GET /{code}", func(w http.ResponseWriter, r *http.Request) {
		code := r.PathValue("code")
		if c, ok := strings.CutSuffix(code, "+"); ok {
			st, _ := a.Stats(r.Context(), c)
			pages.Stats(w, web.StatsData{Code: c, ShortURL: base + "/" + c, URL: links[c], CreatedAt: time.Now(), Stats: st})
			return
		}
		mu.Lock()
		u, ok := links[code]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = a.Record(r.Context(), analytics.Click{Code: code, Referrer: r.Referer(), UserAgent: r.UserAgent()})
		http.Redirect(w, r, u, http.StatusFound)
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		_ = a.Close(context.Background())
		_ = bus.Close()
	})
	return base
}
