package pubsub

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/version.lua
	versionLua string
	//go:embed lua/publish.lua
	publishLua string
	//go:embed lua/load.lua
	loadLua string
	//go:embed lua/bind.lua
	bindLua string
	//go:embed lua/unbind.lua
	unbindLua string
	//go:embed lua/reap.lua
	reapLua string
	//go:embed lua/dead.lua
	deadLua string
	//go:embed lua/claim.lua
	claimLua string
	//go:embed lua/heartbeat.lua
	heartbeatLua string
	//go:embed lua/leave.lua
	leaveLua string
	//go:embed lua/expired.lua
	expiredLua string
	//go:embed lua/tidy.lua
	tidyLua string
	//go:embed lua/handback.lua
	handbackLua string

	publishScript   = redis.NewScript(publishLua)
	loadScript      = redis.NewScript(loadLua)
	bindScript      = redis.NewScript(versionLua + bindLua)
	unbindScript    = redis.NewScript(versionLua + unbindLua)
	reapScript      = redis.NewScript(versionLua + reapLua)
	deadScript      = redis.NewScript(deadLua)
	claimScript     = redis.NewScript(claimLua)
	heartbeatScript = redis.NewScript(versionLua + heartbeatLua)
	leaveScript     = redis.NewScript(leaveLua)
	expiredScript   = redis.NewScript(expiredLua)
	tidyScript      = redis.NewScript(tidyLua)
	handbackScript  = redis.NewScript(handbackLua)
)
