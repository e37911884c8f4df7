package shortener

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"

	"github.com/sysdesign/patterns/cqrs"
)

// Event types of a deduplication stream ("dedup-<md5 of the normalised
// URL>").
const (
	EventDedupClaimed  = "dedup-claimed"
	EventDedupReleased = "dedup-released"
)

// dedupEntry pairs a full URL with its code. A stream holds more than one
// only when two URLs share an MD5.
type dedupEntry struct {
	URL  string `json:"url"`
	Code string `json:"code"`
}

// dedupState is the deduplication aggregate of one MD5: the URLs with that
// hash that have a code.
type dedupState struct {
	entries []dedupEntry
}

func (s dedupState) lookup(url string) (string, bool) {
	for _, e := range s.entries {
		if e.URL == url {
			return e.Code, true
		}
	}
	return "", false
}

func evolveDedup(s dedupState, e cqrs.Event) (dedupState, error) {
	var d dedupEntry
	if err := e.Decode(&d); err != nil {
		return s, fmt.Errorf("dedup event %d: %w", e.Version, err)
	}
	kept := make([]dedupEntry, 0, len(s.entries)+1)
	for _, old := range s.entries {
		if old.Code != d.Code && old.URL != d.URL {
			kept = append(kept, old)
		}
	}
	if e.Type == EventDedupClaimed {
		kept = append(kept, d)
	}
	return dedupState{entries: kept}, nil
}

// dedupID names the deduplication stream of a normalised URL. MD5 is a
// fine index here: it only picks the stream, and the full URL is compared
// inside it.
func dedupID(normalised string) string {
	sum := md5.Sum([]byte(normalised))
	return hex.EncodeToString(sum[:])
}
