package queue

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/common.lua
	commonLua string
	//go:embed lua/enqueue.lua
	enqueueLua string
	//go:embed lua/take.lua
	takeLua string
	//go:embed lua/ack.lua
	ackLua string
	//go:embed lua/requeue.lua
	requeueLua string
	//go:embed lua/cancel.lua
	cancelLua string
	//go:embed lua/renew.lua
	renewLua string
	//go:embed lua/release.lua
	releaseLua string
	//go:embed lua/len.lua
	lenLua string
	//go:embed lua/wake.lua
	wakeLua string

	enqueueScript = redis.NewScript(commonLua + enqueueLua)
	takeScript    = redis.NewScript(commonLua + takeLua)
	ackScript     = redis.NewScript(commonLua + ackLua)
	requeueScript = redis.NewScript(commonLua + requeueLua)
	cancelScript  = redis.NewScript(commonLua + cancelLua)
	renewScript   = redis.NewScript(commonLua + renewLua)
	releaseScript = redis.NewScript(commonLua + releaseLua)
	lenScript     = redis.NewScript(commonLua + lenLua)
	wakeScript    = redis.NewScript(commonLua + wakeLua)
)

// keys of one queue, all in the hash slot of the queue's name.
type keys struct {
	ready, sched, leases, jobs, seq, wake, delivery string
}

func newKeys(prefix, name string) keys {
	k := prefix + "{" + name + "}:"
	return keys{ready: k + "ready", sched: k + "scheduled", leases: k + "leases", jobs: k + "jobs",
		seq: k + "seq", wake: k + "wake", delivery: k + "d:"}
}

// marker is the key of the delivery whose lease (or lease token) this is:
// a lease's member starts with its token.
func (k keys) marker(lease string) string { return k.delivery + lease[:min(len(lease), tokenLen)] }
