package analytics

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIsBot(t *testing.T) {
	for ua, bot := range map[string]bool{
		firefox: false,
		chrome:  false,
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1": false,
		crawler:                                 true,
		"":                                      true,
		"   ":                                   true,
		"curl/8.5.0":                            true,
		"facebookexternalhit/1.1":               true,
		"Slackbot-LinkExpanding 1.0":            true,
		"Go-http-client/1.1":                    true,
		"python-requests/2.31.0":                true,
		"Mozilla/5.0 (compatible; bingbot/2.0)": true,
	} {
		assert.Equal(t, bot, IsBot(ua), "%q", ua)
	}
}

func TestBrowser(t *testing.T) {
	for ua, want := range map[string]string{
		firefox: "firefox",
		chrome:  "chrome",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0": "edge",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0": "opera",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15":            "safari",
		"Lynx/2.9": "other",
	} {
		assert.Equal(t, want, Browser(ua), "%q", ua)
	}
}

func TestReferrerHostKeepsTheHostOnly(t *testing.T) {
	for ref, want := range map[string]string{
		"https://News.Example:8443/a/b?token=x#f": "news.example",
		"http://news.example":                     "news.example",
		"":                                        "",
		"news.example/path":                       "",
		"javascript:alert(1)":                     "",
		"ftp://files.example/":                    "",
		"https://<script>alert(1)</script>/":      "",
		"https:///nohost":                         "",
	} {
		assert.Equal(t, want, referrerHost(ref), "%q", ref)
	}
}
