module github.com/sysdesign/patterns

// go 1.24 with go-redis v9.22: the newest go-redis that still builds on Go
// 1.24, so services on the three most recent Go releases can import us.
// A service on Go 1.26 can require go-redis v9.23 itself; MVS picks it up.
go 1.24

require (
	github.com/alicebob/miniredis/v2 v2.40.0
	github.com/redis/go-redis/v9 v9.22.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/yuin/gopher-lua v1.1.1 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.30.0 // indirect
)
