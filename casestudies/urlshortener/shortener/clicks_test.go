package shortener

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func testClicksAndStats(t *testing.T, mk starter) {
	s := mk(t, Config{})
	code := s.mustCreate(map[string]any{"url": "https://example.com/counted"})
	browser := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	for _, ref := range []string{"https://news.example/a", "https://news.example/b", "https://blog.example/post", ""} {
		r := s.get("/"+code, "Referer", ref, "User-Agent", browser)
		require.Equal(t, http.StatusFound, r.status)
	}
	require.Equal(t, http.StatusFound, s.get("/"+code, "User-Agent", "Googlebot/2.1 (+http://www.google.com/bot.html)").status)

	var st statsJSON
	require.Eventually(t, func() bool {
		r := s.get("/api/links/" + code + "/stats")
		if r.status != http.StatusOK {
			return false
		}
		require.NoError(t, decodeJSON(strings.NewReader(string(r.body)), &st))
		return st.Total == 4 && st.Bots == 1
	}, 10*time.Second, 20*time.Millisecond, "stats: %+v", &st)
	require.Equal(t, []countJSON{{"news.example", 2}, {"blog.example", 1}, {"direct", 1}}, st.Referrers)
	require.Equal(t, []countJSON{{"2026-12-03", 4}}, st.Days)
	require.Equal(t, http.StatusNotFound, s.get("/api/links/nothere/stats").status)
}

func testPages(t *testing.T, mk starter) {
	s := mk(t, Config{})
	home := s.get("/")
	require.Equal(t, http.StatusOK, home.status)
	require.Contains(t, home.header.Get("Content-Type"), "text/html")
	require.Contains(t, string(home.body), `name="url"`)

	post := func(form url.Values) reply {
		return s.do(http.MethodPost, "/", strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	}
	ok := post(url.Values{"url": {"https://example.com/from-the-form"}})
	require.Equal(t, http.StatusOK, ok.status)
	require.Contains(t, string(ok.body), "http://sho.rt/")
	bad := post(url.Values{"url": {"javascript:alert(1)"}})
	require.Equal(t, http.StatusBadRequest, bad.status)
	require.Contains(t, string(bad.body), "scheme")
	taken := post(url.Values{"url": {"https://example.com/x"}, "alias": {"api"}})
	require.Equal(t, http.StatusBadRequest, taken.status)

	code := s.mustCreate(map[string]any{"url": "https://example.com/charted"})
	require.Equal(t, http.StatusFound, s.get("/"+code).status)
	page := s.get("/" + code + "+")
	require.Equal(t, http.StatusOK, page.status)
	require.Contains(t, string(page.body), "<svg")
	require.Contains(t, string(page.body), "https://example.com/charted")
	require.Equal(t, http.StatusNotFound, s.get("/nothere+").status)
}
