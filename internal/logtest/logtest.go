// Package logtest reads what a package logged through slog's JSON handler,
// for tests that assert on log records.
package logtest

import (
	"encoding/json"
	"strings"
	"testing"
)

// Records decodes JSON slog output, one record per line; a line that is
// not JSON fails t.
func Records(t testing.TB, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("logtest: %q is not a JSON record: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}
