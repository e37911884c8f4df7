package saga

import (
	"strings"
	"testing"
	"time"
)

// The entries of one write are separate arguments, each exactly its own
// JSON, however the buffer grew while they were encoded.
func TestRedisArgsEncodeSlicesEachEntry(t *testing.T) {
	var a redisArgs
	at := time.Unix(1700000000, 0)
	big := []byte(`"` + strings.Repeat("x", 5000) + `"`)
	es := []Entry{
		{Kind: StepDone, Step: 0, StepName: "a", Data: big, At: at},
		{Kind: StepBegun, Step: 1, StepName: "b", Data: []byte(`1`), At: at},
		{Kind: Finished, Step: -1, Status: Completed, Data: big, At: at},
	}
	for round := 0; round < 2; round++ {
		a.args = a.args[:0]
		if err := a.encode(es, true); err != nil {
			t.Fatal(err)
		}
		if len(a.args) != len(es) {
			t.Fatalf("%d args for %d entries", len(a.args), len(es))
		}
		for i, arg := range a.args {
			b, _ := arg.(*entryArg).MarshalBinary()
			want, _ := appendEntryJSON(nil, &es[i], true)
			if string(b) != string(want) {
				t.Errorf("round %d, arg %d: %.60s…, want %.60s…", round, i, b, want)
			}
		}
	}
}
