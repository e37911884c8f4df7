package cqrs

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

var jsonValidCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-12.0E-3`, `true`, `false`, `null`,
	` {"a" : [1, 2.5, "x\"y\\z\/\b\f\n\r\t\u00e9", true, null, {"b": []}] } `,
	`{"channel":"email","status":"sent","attempt":1,"at":"2026-12-03T18:04:05.123456789Z"}`,
	"\"bad utf8 \xff is accepted, as json.Valid does\"",
	strings.Repeat("[", fastJSONDepth+5) + strings.Repeat("]", fastJSONDepth+5),
	// invalid
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a"}`, `{a:1}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`,
	`"\x"`, `"\u12g4"`, `"\u123"`, "\"ctl \x01\"", `"open`, `tru`, `nul`, `{} {}`, `[1 2]`, `NaN`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
}

// validJSON agrees with json.Valid on every case, and its fast scan never
// accepts what json.Valid rejects.
func TestValidJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range jsonValidCases {
		want := json.Valid([]byte(c))
		assert.Equal(t, want, validJSON([]byte(c)), "%.60q", c)
		if !want {
			assert.False(t, fastValidJSON([]byte(c)), "fast scan accepted invalid %.60q", c)
		}
	}
	assert.True(t, fastValidJSON([]byte(jsonValidCases[11])), "an event payload takes the fast path")
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range jsonValidCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b)
		if got := validJSON(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
		if fastValidJSON(b) && !want {
			t.Fatalf("fast scan accepted %q", b)
		}
	})
}

func BenchmarkValidJSON(b *testing.B) {
	data := []byte(jsonValidCases[11])
	b.Run("encoding-json", func(b *testing.B) {
		for range b.N {
			json.Valid(data)
		}
	})
	b.Run("validJSON", func(b *testing.B) {
		for range b.N {
			validJSON(data)
		}
	})
}
