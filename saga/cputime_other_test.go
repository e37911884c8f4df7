//go:build !unix

package saga

import "time"

func cpuTime() time.Duration { return 0 }
