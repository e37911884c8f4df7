package ratelimit

import (
	"fmt"
	"math/rand"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// probeState is a state whose idleness the test controls.
type probeState struct {
	id   int64
	dead bool
}

func (p *probeState) decide(*spec, int64, int64) outcome { return outcome{} }
func (p *probeState) idle(*spec, int64) bool             { return p.dead }

// TestTableAgainstMap drives the open-addressing table and a plain map with
// the same random inserts, deaths and sweeps (which delete and shrink), and
// checks after every step that both hold the same keys with the same states.
func TestTableAgainstMap(t *testing.T) {
	s := &spec{alg: FixedWindow, rate: 1, periodUS: 1}
	rng := rand.New(rand.NewSource(1))
	tb := newTable[probeState](s, 0)
	model := map[string]int64{}
	now := int64(0)
	check := func() {
		require.Equal(t, len(model), tb.len())
		for k, id := range model {
			sh, st, err := tb.acquire(k, now)
			require.NoError(t, err)
			require.Equal(t, id, st.id, "key %s", k)
			sh.mu.Unlock()
		}
	}
	for round := 0; round < 40; round++ {
		// grow: insert a burst of keys, some already present
		for i := 0; i < rng.Intn(3000); i++ {
			k := fmt.Sprint("k", rng.Intn(20000))
			sh, st, err := tb.acquire(k, now)
			require.NoError(t, err)
			if id, ok := model[k]; ok {
				require.Equal(t, id, st.id)
			} else {
				st.id = rng.Int63()
				model[k] = st.id
			}
			sh.mu.Unlock()
		}
		// kill a random share of the keys, then let every shard sweep
		share := rng.Intn(100)
		for k := range model {
			if rng.Intn(100) < share {
				sh, st, err := tb.acquire(k, now)
				require.NoError(t, err)
				st.dead = true
				sh.mu.Unlock()
				delete(model, k)
			}
		}
		now += tb.sweepEvery
		for i := range tb.shards {
			tb.sweep(&tb.shards[i], now)
		}
		check()
	}
	for i := range tb.shards {
		sh := &tb.shards[i]
		if len(sh.slots) > 0 {
			require.Less(t, sh.count*20, len(sh.slots)*17+20, "shard over 85%% load")
		}
	}
}

// Shards are padded to two cache lines so that two cores locking
// neighbouring shards do not contend for one line.
func TestShardIsTwoCacheLines(t *testing.T) {
	require.EqualValues(t, 128, unsafe.Sizeof(shard[bucketState]{}))
}
