package analytics

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/sysdesign/patterns/pubsub"
)

// Click is one redirect of a short link, as the redirect handler saw it.
type Click struct {
	// Code is the short code (or alias) that was followed.
	Code string
	// At is when the click happened; zero means now (Config.Clock).
	At time.Time
	// Referrer is the request's Referer header, as sent. Only its host is
	// kept: a referring URL's path and query may carry tokens.
	Referrer string
	// UserAgent is the request's User-Agent header; it is kept truncated
	// to MaxUserAgentLen bytes.
	UserAgent string
}

// Limits on what a click carries.
const (
	// MaxCodeLen bounds Click.Code, in bytes.
	MaxCodeLen = 64
	// MaxUserAgentLen bounds the user agent kept per click, in bytes.
	MaxUserAgentLen = 256
	// MaxHostLen bounds the referrer host kept per click, in bytes.
	MaxHostLen = 253
)

// TopicPrefix is what every click's topic starts with: the clicks on code
// C are published to TopicPrefix + C, in batches (JSON: {"id", "code",
// "clicks": [{"at", "ref", "ua", "n"}]}, the data of EventClicks), so a
// subscriber can follow one link ("urlshortener.click.abc1234") or all of
// them ("urlshortener.click.*").
const TopicPrefix = "urlshortener.click."

// clickRecord is one click reduced to what is kept: the referrer reduced
// to its host, the user agent truncated. Before batching it travelled on
// the bus and was stored (EventClicked) as is, with an id that makes
// redeliveries and retried appends count once; such messages and events
// are still read.
type clickRecord struct {
	ID        string    `json:"id"`
	Code      string    `json:"code"`
	At        time.Time `json:"at"`
	Host      string    `json:"ref,omitempty"`
	UserAgent string    `json:"ua,omitempty"`
}

// validateCode checks that a code is one topic segment: codes and aliases
// are [A-Za-z0-9_-] (checked without allocating, on every redirect), but
// anything else goes through the bus's own rule plus "no dot", so that a
// code can never widen or split the topic it is published to.
func validateCode(code string) error {
	if code != "" && len(code) <= MaxCodeLen && isCodeShaped(code) {
		return nil
	}
	if code == "" {
		return fmt.Errorf("%w: empty code", ErrInvalidClick)
	}
	if len(code) > MaxCodeLen {
		return fmt.Errorf("%w: code longer than %d bytes", ErrInvalidClick, MaxCodeLen)
	}
	if strings.Contains(code, ".") {
		return fmt.Errorf("%w: code %q contains a dot", ErrInvalidClick, code)
	}
	if err := pubsub.ValidateTopic(TopicPrefix + code); err != nil {
		return fmt.Errorf("%w: code %q: %v", ErrInvalidClick, code, err)
	}
	return nil
}

// isCodeShaped reports whether s is made of [A-Za-z0-9_-] only: the
// characters of codes and aliases, each allowed in a topic segment.
func isCodeShaped(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// reduce keeps of a click what is stored (At is set: Record sets it).
func reduce(c Click) clickRecord {
	ua := c.UserAgent
	if len(ua) > MaxUserAgentLen {
		ua = ua[:MaxUserAgentLen]
	}
	return clickRecord{Code: c.Code, At: c.At.UTC(), Host: referrerHost(c.Referrer), UserAgent: ua}
}

// newRecord reduces a click to what a single-click message (the format
// before batching, EventClicked) carries, with a fresh id.
func newRecord(c Click, now func() time.Time) clickRecord {
	if c.At.IsZero() {
		c.At = now()
	}
	r := reduce(c)
	r.ID = newID()
	return r
}

// newID returns 128 random bits in hex: unique across a fleet without
// coordination (math/rand/v2's global source is seeded from the OS).
func newID() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// referrerHost returns the lower-case host of a Referer header, "" for none
// or one that is not an absolute http(s) URL with a host.
func referrerHost(ref string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	h := strings.ToLower(u.Hostname())
	if h == "" || len(h) > MaxHostLen || strings.IndexFunc(h, notHostChar) >= 0 {
		return ""
	}
	return h
}

// notHostChar reports a rune no DNS name or IP address holds (Go's URL
// parser lets "<script>" through as a host).
func notHostChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' || r == ':')
}
