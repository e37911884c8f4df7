package web

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sysdesign/patterns/casestudies/urlshortener/analytics"
)

var today = time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)

func newPages(t *testing.T) *Pages {
	t.Helper()
	p, err := New(WithClock(func() time.Time { return today }))
	require.NoError(t, err)
	return p
}

func home(t *testing.T, status int, d HomeData) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	newPages(t).Home(rec, status, d)
	return rec.Result(), rec.Body.String()
}

func statsPage(t *testing.T, d StatsData) string {
	t.Helper()
	rec := httptest.NewRecorder()
	newPages(t).Stats(rec, d)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Equal(t, ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"))
	return rec.Body.String()
}

// svgChart is the part of the chart the tests read.
type svgChart struct {
	XMLName xml.Name `xml:"svg"`
	Role    string   `xml:"role,attr"`
	Title   string   `xml:"title"`
	Desc    string   `xml:"desc"`
	Bars    []struct {
		Day    string  `xml:"data-day,attr"`
		Clicks int64   `xml:"data-clicks,attr"`
		Height float64 `xml:"height,attr"`
		Width  float64 `xml:"width,attr"`
		Title  string  `xml:"title"`
	} `xml:"rect"`
}

var svgRe = regexp.MustCompile(`(?s)<svg id="clicks-per-day".*?</svg>`)

// parseChart finds the chart's SVG in a page and decodes it as XML: it must
// be well-formed.
func parseChart(t *testing.T, page string) svgChart {
	t.Helper()
	raw := svgRe.FindString(page)
	require.NotEmpty(t, raw, "the page has the chart")
	var c svgChart
	require.NoError(t, xml.Unmarshal([]byte(raw), &c))
	return c
}

func TestHomeShowsTheFormAndTheErrorNextToItsField(t *testing.T) {
	resp, page := home(t, http.StatusOK, HomeData{})
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `<form method="post" action="/"`)
	assert.Regexp(t, `<label for="url">`, page)
	assert.Regexp(t, `<input id="url" name="url"`, page)
	assert.Regexp(t, `<input id="alias" name="alias"`, page)
	assert.NotContains(t, page, `role="alert"`, "no error, no alert")

	resp, page = home(t, http.StatusBadRequest, HomeData{URL: "ftp://x", Field: "url", Error: "url: must be http or https"})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Regexp(t, `(?s)<input id="url"[^>]*value="ftp://x"[^>]*aria-invalid="true" aria-describedby="url-error">\s*<p class="error" role="alert" id="url-error">url: must be http or https</p>`, page)
	assert.NotContains(t, page, `id="alias-error"`)

	_, page = home(t, http.StatusConflict, HomeData{URL: "https://example.com/", Alias: "taken", Field: "alias", Error: "alias: taken"})
	assert.Regexp(t, `(?s)<input id="alias"[^>]*value="taken"[^>]*aria-invalid="true" aria-describedby="alias-error">\s*<p class="error" role="alert" id="alias-error">alias: taken</p>`, page)

	_, page = home(t, http.StatusTooManyRequests, HomeData{Error: "too many links created: try again in 2s"})
	assert.Contains(t, page, `<p class="error" role="alert" id="form-error">too many links created: try again in 2s</p>`)
}

func TestHomeShowsTheShortLinkAndItsStatsPage(t *testing.T) {
	_, page := home(t, http.StatusCreated, HomeData{URL: "https://example.com/a?b=1&c=2", ShortURL: "http://127.0.0.1:8080/abc1234", Code: "abc1234"})
	assert.Contains(t, page, `<a id="short-url" href="http://127.0.0.1:8080/abc1234">http://127.0.0.1:8080/abc1234</a>`)
	assert.Contains(t, page, `<a id="stats-link" href="/abc1234+">`)
	assert.Contains(t, page, "https://example.com/a?b=1&amp;c=2")
}

func TestHostileInputIsEscaped(t *testing.T) {
	const xss = `"><script>alert(1)</script>`
	_, page := home(t, http.StatusBadRequest, HomeData{URL: xss, Alias: xss, Field: "url", Error: xss})
	assert.NotContains(t, page, "<script>")
	assert.Contains(t, page, "&lt;script&gt;")

	page = statsPage(t, StatsData{
		Code: "abc", ShortURL: "http://s.example/abc", URL: "javascript:alert(1)",
		Stats: analytics.Stats{Total: 1, Referrers: []analytics.Count{{Key: "<script>alert(1)</script>", N: 1}},
			Days: []analytics.Count{{Key: "<b>", N: 1}}},
	})
	assert.NotContains(t, page, "<script>")
	assert.Contains(t, page, "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>")
	assert.NotContains(t, page, `href="javascript:`, "a javascript: target is never a live link")
	assert.Contains(t, page, `href="#ZgotmplZ"`)
	parseChart(t, page) // a hostile day key cannot break the SVG
}

func TestStatsPageChartHasABarPerDayWithTooltips(t *testing.T) {
	expires := today.Add(48 * time.Hour)
	page := statsPage(t, StatsData{
		Code: "abc1234", ShortURL: "http://s.example/abc1234", URL: "https://example.com/",
		CreatedAt: today.Add(-72 * time.Hour), ExpiresAt: &expires,
		Stats: analytics.Stats{
			Code: "abc1234", Total: 6, Bots: 2, Lag: 3,
			Referrers: []analytics.Count{{Key: "news.example", N: 4}, {Key: analytics.DirectReferrer, N: 2}},
			Days:      []analytics.Count{{Key: "2026-03-12", N: 2}, {Key: "2026-03-14", N: 4}},
		},
	})
	c := parseChart(t, page)
	assert.Equal(t, "img", c.Role)
	assert.Equal(t, "Clicks per day, 2026-03-08 to 2026-03-14", c.Title)
	assert.Contains(t, c.Desc, "6 clicks in 7 days")
	require.Len(t, c.Bars, 7, "a bar for every day of the last week (the first click is younger), gaps included")
	c.Bars = c.Bars[4:]
	for i, want := range []struct {
		day    string
		clicks int64
		title  string
	}{{"2026-03-12", 2, "2026-03-12: 2 clicks"}, {"2026-03-13", 0, "2026-03-13: 0 clicks"}, {"2026-03-14", 4, "2026-03-14: 4 clicks"}} {
		assert.Equal(t, want.day, c.Bars[i].Day)
		assert.Equal(t, want.clicks, c.Bars[i].Clicks)
		assert.Equal(t, want.title, c.Bars[i].Title)
	}
	assert.InDelta(t, 2*c.Bars[0].Height, c.Bars[2].Height, 0.2, "heights are proportional")
	assert.Zero(t, c.Bars[1].Height)
	assert.LessOrEqual(t, c.Bars[2].Width, float64(maxBarWidth))

	assert.Regexp(t, `(?s)<table class="per-day">.*<td>2026-03-13</td><td>0</td>`, page, "the text alternative lists every day")
	assert.Regexp(t, `(?s)<table id="referrer-table">.*<td>news.example</td><td>4</td>.*<td>direct</td><td>2</td>`, page)
	assert.Contains(t, page, `<strong id="total">6</strong> clicks`)
	assert.Contains(t, page, `<strong id="bots">2</strong>`)
	assert.Contains(t, page, "3 clicks still being counted")
	assert.Contains(t, page, "Expires")
	assert.NotContains(t, page, `id="browser-table"`)
}

func TestStatsPageOfALinkNeverClicked(t *testing.T) {
	page := statsPage(t, StatsData{Code: "new", ShortURL: "http://s.example/new", URL: "https://example.com/"})
	c := parseChart(t, page)
	require.Len(t, c.Bars, 7, "the last week")
	assert.Equal(t, "2026-03-08", c.Bars[0].Day)
	assert.Equal(t, "2026-03-14", c.Bars[6].Day)
	for _, b := range c.Bars {
		assert.Zero(t, b.Clicks)
	}
	assert.Contains(t, page, "No clicks yet.")
	assert.Contains(t, page, `<strong id="total">0</strong> clicks`)
}

func TestStatsPageChartShowsAtMostThirtyDays(t *testing.T) {
	var days []analytics.Count
	for d := today.AddDate(0, 0, -99); !d.After(today); d = d.AddDate(0, 0, 1) {
		days = append(days, analytics.Count{Key: d.Format(analytics.DayLayout), N: 1})
	}
	c := parseChart(t, statsPage(t, StatsData{Code: "old", Stats: analytics.Stats{Days: days}}))
	require.Len(t, c.Bars, DefaultChartDays)
	assert.Equal(t, "2026-03-14", c.Bars[DefaultChartDays-1].Day)
}

func TestStatsPageShowsTheBrowserStatisticOnceEnabled(t *testing.T) {
	page := statsPage(t, StatsData{Code: "b", Stats: analytics.Stats{Browsers: []analytics.Count{{Key: "firefox", N: 2}}, BrowsersPartial: true}})
	assert.Regexp(t, `(?s)<table id="browser-table">.*<td>firefox</td><td>2</td>`, page)
	assert.Contains(t, page, "a rebuild backfills older clicks")
}

// TestPagesMakeNoExternalRequests: every resource a page loads (src, link
// href, CSS url/@import) is on the same origin; there is no script at all.
func TestPagesMakeNoExternalRequests(t *testing.T) {
	_, homePage := home(t, http.StatusOK, HomeData{})
	pages := []string{homePage, statsPage(t, StatsData{Code: "a", ShortURL: "https://s.example/a", URL: "https://example.com/"})}
	resource := regexp.MustCompile(`(?i)(?:src=|<link[^>]*href=|url\(|@import)\s*["']?([^"')\s>]*)`)
	for _, page := range pages {
		assert.NotContains(t, strings.ToLower(page), "<script")
		for _, m := range resource.FindAllStringSubmatch(page, -1) {
			u := m[1]
			assert.True(t, strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") || strings.HasPrefix(u, "data:"), "external resource %q", u)
		}
	}
	css := asset(t, "/style.css")
	assert.NotRegexp(t, `(?i)url\(|@import`, css)
}

func asset(t *testing.T, path string) string {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/static", newPages(t).Assets()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/static" + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/css")
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestAssetsServeTheStylesheetOnly(t *testing.T) {
	assert.Contains(t, asset(t, "/style.css"), ".chart .bar")
	srv := httptest.NewServer(newPages(t).Assets())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/../pages.go")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestNewRefusesANilClock(t *testing.T) {
	_, err := New(WithClock(nil))
	assert.Error(t, err)
	_, err = New(nil)
	assert.Error(t, err)
}

func TestErrorPage(t *testing.T) {
	rec := httptest.NewRecorder()
	newPages(t).Error(rec, http.StatusGone, `This link expired. <script>`)
	assert.Equal(t, http.StatusGone, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	page := rec.Body.String()
	assert.Contains(t, page, "<h1>Gone</h1>")
	assert.Contains(t, page, `<p id="error-message">This link expired. &lt;script&gt;</p>`)

	rec = httptest.NewRecorder()
	newPages(t).Error(rec, 599, "odd")
	assert.Equal(t, 599, rec.Code)
	assert.Contains(t, rec.Body.String(), "<h1>Error</h1>")
}
