package shortener

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestValidKeyIsTheAliasPattern: the hand-written check on the redirect
// path accepts exactly what aliasPattern does.
func TestValidKeyIsTheAliasPattern(t *testing.T) {
	for _, s := range []string{"", "ab", "abc", "a_b-C9", strings.Repeat("x", 32), strings.Repeat("x", 33),
		"ab.c", "ab c", "abc+", "äbc", "abc\n", "../x", "a%20b"} {
		assert.Equal(t, aliasPattern.MatchString(s), validKey(s), "%q", s)
	}
}
