package breaker

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sysdesign/patterns/internal/redisx"
)

var (
	//go:embed lua/common.lua
	commonLua string
	//go:embed lua/state.lua
	stateLua string
	//go:embed lua/trip.lua
	tripLua string
	//go:embed lua/acquire.lua
	acquireLua string
	//go:embed lua/finish.lua
	finishLua string

	scripts = [...]*redis.Script{
		opState:   redis.NewScript(commonLua + stateLua),
		opTrip:    redis.NewScript(commonLua + tripLua),
		opAcquire: redis.NewScript(commonLua + acquireLua),
		opFinish:  redis.NewScript(commonLua + finishLua),
	}
	outcomeArgs = [...]string{success: "s", failure: "f", ignored: "i"}
)

// redisRemote runs the scripts on one circuit's key.
type redisRemote struct {
	s      *RedisStore
	keys   []string
	static []any // TTL ms, channel, name, OpenTimeout µs, HalfOpenMaxCalls
}

// do runs op's script within the store's bound: on every client it
// returns by WithTimeout or ctx's deadline, whichever is sooner.
func (r *redisRemote) do(ctx context.Context, op op, epoch int64, o outcome) (shared, error) {
	args := make([]any, 0, 8) // a fresh slice per call: an abandoned call may still read it
	args = append(args, r.s.now())
	args = append(args, r.static...)
	if op == opFinish {
		args = append(args, strconv.FormatInt(epoch, 10), outcomeArgs[o])
	}
	reply, err := r.s.bound.Eval(ctx, r.s.c, scripts[op], r.keys, args, nil).Text()
	if err != nil {
		return shared{}, fmt.Errorf("breaker: redis: %w", err)
	}
	v, rest, ok := parseInts(reply, 4)
	if !ok || rest != "" {
		return shared{}, errBadReply
	}
	return shared{admitted: v[0] == 1, state: State(v[1]), epoch: v[2], remaining: v[3] * int64(time.Microsecond)}, nil
}

func (s *RedisStore) now() string {
	if s.testClock == nil {
		return "" // the script reads the server's TIME
	}
	return strconv.FormatInt(s.testClock().UnixMicro(), 10)
}

var errBadReply = errors.New("breaker: malformed script reply")

// parsePush decodes a published change: "state epoch remaining-µs name".
func parsePush(msg string) (name string, sh shared, ok bool) {
	v, rest, ok := parseInts(msg, 3)
	if !ok || !strings.HasPrefix(rest, " ") || v[0] < 0 || v[0] > int64(Open) {
		return "", shared{}, false
	}
	return rest[1:], shared{state: State(v[0]), epoch: v[1], remaining: v[2] * int64(time.Microsecond)}, true
}

// parseInts reads n space-separated non-negative integers from the front
// of s and returns what follows them.
func parseInts(s string, n int) (v [4]int64, rest string, ok bool) {
	for i := range n {
		if i > 0 {
			if s == "" || s[0] != ' ' {
				return v, s, false
			}
			s = s[1:]
		}
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == 0 || j > 18 {
			return v, s, false
		}
		x, err := redisx.ParseInt(s[:j])
		if err != nil {
			return v, s, false
		}
		v[i], s = x, s[j:]
	}
	return v, s, true
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
