package queue

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// seqLen is the length of the enqueue sequence number that starts a job's
// member in the ready, scheduled and leases sets (see lua/common.lua).
const seqLen = 16

// leaseJobID is the job ID in a lease's member: token, sequence number, ID.
func leaseJobID(lease string) string {
	if len(lease) < tokenLen+seqLen {
		return ""
	}
	return lease[tokenLen+seqLen:]
}

var errBadRecord = errors.New("malformed job record")

// parseRecord reads a job's record as the scripts store it:
// "priority|attempt|enqueued_us|due_us|seq|nonce|" then the payload.
func parseRecord(id, record string) (*Delivery, error) {
	var f [6]int64
	rest := record
	for i := range f {
		field, after, ok := strings.Cut(rest, "|")
		if !ok {
			return nil, errBadRecord
		}
		rest = after
		if i >= 4 { // seq and nonce: not needed here
			continue
		}
		n, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return nil, errBadRecord
		}
		f[i] = n
	}
	d := &Delivery{
		Job:        Job{ID: id, Priority: Priority(f[0]), RunAt: time.UnixMicro(f[3])},
		Attempt:    int(f[1]),
		EnqueuedAt: time.UnixMicro(f[2]),
	}
	if rest != "" {
		d.Payload = []byte(rest)
	}
	return d, nil
}
