package urlcheck

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheck checks that whatever Check accepts is an absolute http(s) URL
// with a host, no user information, within MaxLen, not on the shortener's
// host, and that it is a fixed point: normalising it again changes nothing
// (otherwise two spellings of one URL could get two dedup entries).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"https://example.com", "HTTP://Example.COM:80/a?b=1#frag", "javascript:alert(1)",
		"https://user:pw@example.com", "http://[::1]:8080/", "https://sho.rt/x", "http://example.com/%zz",
		"https://例え.jp/ページ", "http://example.com./", "http://a/b/../c", "http://[fe80::1%25en0]/",
	} {
		f.Add(s)
	}
	c, err := New("sho.rt")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		norm, err := c.Check(raw)
		if err != nil {
			return
		}
		if len(norm) > MaxLen {
			t.Fatalf("accepted %d bytes", len(norm))
		}
		u, err := url.Parse(norm)
		if err != nil {
			t.Fatalf("normalised %q does not parse: %v", norm, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || u.User != nil {
			t.Fatalf("accepted %q as %q", raw, norm)
		}
		if strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), "sho.rt") {
			t.Fatalf("accepted a link to the shortener itself: %q", raw)
		}
		again, err := c.Check(norm)
		if err != nil || again != norm {
			t.Fatalf("Check(%q) = %q; Check of that = %q, %v", raw, norm, again, err)
		}
	})
}
