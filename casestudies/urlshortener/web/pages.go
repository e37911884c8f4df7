package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ContentSecurityPolicy is sent with every page: resources from this
// origin only, no scripts, forms posting here only.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// DefaultChartDays is how many days the clicks-per-day chart shows at
// most, ending today.
const DefaultChartDays = 30

// Pages renders the site's pages. Safe for concurrent use.
type Pages struct {
	home, stats, errPage *template.Template
	assets               http.Handler
	now                  func() time.Time
}

// Option configures New.
type Option interface{ apply(*Pages) }

type clockOption func() time.Time

func (c clockOption) apply(p *Pages) { p.now = c }

// WithClock sets the clock that says which day is today on the chart
// (default time.Now).
func WithClock(now func() time.Time) Option { return clockOption(now) }

// HomeData is what the home page shows: the form, filled with URL (and
// the alias) after a POST; ShortURL and Code after a success; Error next
// to the form field named Field ("url", "alias"; another or "" shows it
// above the form).
type HomeData struct {
	URL, ShortURL, Code string
	Error, Field        string
	// Alias is the alias the user asked for, kept in the form after an
	// error.
	Alias string
}

// StatsData is what a link's statistics page shows.
type StatsData struct {
	Code, ShortURL, URL string
	CreatedAt           time.Time
	ExpiresAt           *time.Time
	Stats               analytics.Stats
}

// New parses the embedded templates.
func New(opts ...Option) (*Pages, error) {
	p := &Pages{now: time.Now}
	for _, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("web: nil option")
		}
		o.apply(p)
	}
	if p.now == nil {
		return nil, fmt.Errorf("web: WithClock(nil)")
	}
	var err error
	if p.home, err = template.ParseFS(templateFS, "templates/layout.html", "templates/home.html"); err != nil {
		return nil, fmt.Errorf("web: parsing the home page: %w", err)
	}
	if p.stats, err = template.New("layout.html").Funcs(template.FuncMap{"plural": plural}).
		ParseFS(templateFS, "templates/layout.html", "templates/stats.html"); err != nil {
		return nil, fmt.Errorf("web: parsing the stats page: %w", err)
	}
	if p.errPage, err = template.ParseFS(templateFS, "templates/layout.html", "templates/error.html"); err != nil {
		return nil, fmt.Errorf("web: parsing the error page: %w", err)
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	files := http.FileServer(http.FS(static))
	p.assets = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	return p, nil
}

// Assets serves the stylesheet (mount it at /static/ with StripPrefix).
func (p *Pages) Assets() http.Handler { return p.assets }

// Home writes the home page with status.
func (p *Pages) Home(w http.ResponseWriter, status int, d HomeData) {
	p.render(w, status, p.home, homeView{HomeData: d, Title: "Shorten a link"})
}

// Stats writes a link's statistics page (status 200).
func (p *Pages) Stats(w http.ResponseWriter, d StatsData) {
	top := d.Stats.Referrers
	if len(top) > TopReferrers {
		top = top[:TopReferrers]
	}
	p.render(w, http.StatusOK, p.stats, statsView{
		StatsData:    d,
		Title:        "Statistics of " + d.Code,
		Chart:        newChart(d.Stats.Days, p.now(), DefaultChartDays),
		TopReferrers: top,
	})
}

// Error writes an error page with status: for a person's browser, where
// the API would answer JSON (a short link that is unknown, expired or used
// up; statistics that cannot be read now). The heading is the status
// text; message says what happened and is escaped.
func (p *Pages) Error(w http.ResponseWriter, status int, message string) {
	heading := http.StatusText(status)
	if heading == "" {
		heading = "Error"
	}
	p.render(w, status, p.errPage, errorView{Title: heading, Heading: heading, Message: message})
}

type errorView struct{ Title, Heading, Message string }

// TopReferrers is how many referrers the statistics page lists.
const TopReferrers = 10

type homeView struct {
	HomeData
	Title string
}

type statsView struct {
	StatsData
	Title        string
	Chart        chart
	TopReferrers []analytics.Count
}

// render executes into a buffer first, so a template error is a clean 500
// rather than half a page.
func (p *Pages) render(w http.ResponseWriter, status int, t *template.Template, v any) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
