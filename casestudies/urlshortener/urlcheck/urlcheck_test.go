package urlcheck

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustChecker(t *testing.T, own ...string) *Checker {
	t.Helper()
	c, err := New(own...)
	require.NoError(t, err)
	return c
}

func TestCheckNormalises(t *testing.T) {
	c := mustChecker(t, "sho.rt", "127.0.0.1:8080")
	for in, want := range map[string]string{
		"https://example.com":                  "https://example.com/",
		"HTTP://Example.COM:80/a?b=1#frag":     "http://example.com/a?b=1#frag",
		"https://example.com:443/x":            "https://example.com/x",
		"https://example.com:8443/x":           "https://example.com:8443/x",
		"http://127.0.0.1:9090/":               "http://127.0.0.1:9090/",
		"http://[::1]:8080/p":                  "http://[::1]:8080/p",
		"https://example.com./docs":            "https://example.com/docs",
		"https://example.com/path%20with%2Fx":  "https://example.com/path%20with%2Fx",
		"https://xn--r8jz45g.jp/ページ":           "https://xn--r8jz45g.jp/%E3%83%9A%E3%83%BC%E3%82%B8",
		"https://EXAMPLE.com/CaseKeptInPath?Q": "https://example.com/CaseKeptInPath?Q",
	} {
		got, err := c.Check(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
		again, err := c.Check(got)
		require.NoError(t, err, "normalised form must be accepted: %s", got)
		require.Equal(t, got, again, "normalising twice changes nothing")
	}
}

func TestCheckRefuses(t *testing.T) {
	c := mustChecker(t, "sho.rt", "127.0.0.1:8080")
	for in, reason := range map[string]string{
		"":                               "empty",
		"example.com/path":               "absolute",
		"/relative":                      "absolute",
		"javascript:alert(1)":            "scheme",
		"data:text/html,<script>":        "scheme",
		"file:///etc/passwd":             "scheme",
		"ftp://example.com/":             "scheme",
		"https://user:pass@example.com/": "user name",
		"https://user@example.com/":      "user name",
		"https:///path-only":             "no host",
		"http:example.com":               "form",
		"https://sho.rt/abc1234":         "redirect loop",
		"https://SHO.RT:8443/x":          "redirect loop",
		"http://127.0.0.1:8080/abc":      "redirect loop",
		"https://example.com/a b":        "whitespace",
		"https://example.com/\x00":       "control",
		"https://example.com:/":          "empty port",
		"https://example.com/" + strings.Repeat("a", MaxLen): "at most",
		"https://exa\xffmple.com/":                           "UTF-8",
		"https://example.com:99999/":                         "port",
		"https://例え.jp/":                                     "punycode",
		"https://exa%20mple.com/":                            "parse",
		"https://a..b/":                                      "empty label",
	} {
		_, err := c.Check(in)
		require.Error(t, err, in)
		require.True(t, errors.Is(err, ErrInvalidURL), in)
		var e *Error
		require.True(t, errors.As(err, &e))
		require.Contains(t, e.Reason, reason, in)
	}
}

func TestNewRefusesBadOwnHost(t *testing.T) {
	for _, h := range []string{"", "http://sho.rt", "sho.rt/path", "a b"} {
		_, err := New(h)
		require.ErrorIs(t, err, ErrInvalidConfig, h)
	}
}
