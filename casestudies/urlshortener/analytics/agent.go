package analytics

import "strings"

// botMarkers are the lower-case substrings that mark a user agent as a
// bot: crawlers, link unfurlers of chat apps and social networks, uptime
// checkers, and HTTP libraries that no person browses with. It is a short
// list on purpose — the big crawlers and previewers announce themselves
// with one of these — and an empty user agent counts as a bot too, since
// every browser sends one.
var botMarkers = []string{
	"bot", "crawl", "spider", "slurp", "preview", "fetch", "monitor",
	"facebookexternalhit", "embedly", "whatsapp", "skypeuripreview",
	"curl/", "wget/", "python-requests", "python-urllib", "go-http-client",
	"java/", "okhttp",
}

// IsBot reports whether a user agent belongs to a bot (see botMarkers).
func IsBot(userAgent string) bool {
	ua := strings.ToLower(strings.TrimSpace(userAgent))
	if ua == "" {
		return true
	}
	for _, m := range botMarkers {
		if strings.Contains(ua, m) {
			return true
		}
	}
	return false
}

// Browser returns the family of a human user agent: "edge", "opera",
// "firefox", "chrome", "safari" or "other". Order matters: Edge and Opera
// also say "Chrome", and Chrome also says "Safari".
func Browser(userAgent string) string {
	ua := strings.ToLower(userAgent)
	switch {
	case strings.Contains(ua, "edg/"), strings.Contains(ua, "edge/"):
		return "edge"
	case strings.Contains(ua, "opr/"), strings.Contains(ua, "opera"):
		return "opera"
	case strings.Contains(ua, "firefox/"), strings.Contains(ua, "fxios/"):
		return "firefox"
	case strings.Contains(ua, "chrome/"), strings.Contains(ua, "crios/"), strings.Contains(ua, "chromium/"):
		return "chrome"
	case strings.Contains(ua, "safari/"):
		return "safari"
	}
	return "other"
}
