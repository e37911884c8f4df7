package saga

import (
	"hash/fnv"
	"strconv"
)

// redisArgs are the keys and script arguments of one saga's writes. A
// Saga's run keeps one for the whole execution (see redisHold), so that
// the keys are built, and the id and token boxed, once per saga rather
// than once per write, and the entries are encoded into a buffer that the
// next write reuses: a write then allocates next to nothing of its own.
type redisArgs struct {
	keys  []string
	kbuf  [3]string
	id    any // boxed once: every boxing of a string allocates
	tok   any // the token, boxed when it changes
	token int64
	args  []any
	buf   []byte     // the entries' JSON, back to back
	ents  []entryArg // each entry's slice of buf, handed to go-redis
}

// entryArg hands go-redis one encoded entry as a pointer, which boxes into
// an interface without allocating (a []byte would not); go-redis writes a
// BinaryMarshaler's bytes as they are.
type entryArg struct {
	b []byte
	n int // the entry's length in buf
}

func (a *entryArg) MarshalBinary() ([]byte, error) { return a.b, nil }

// statusArgs are the final-status arguments, boxed once.
var statusArgs = func() (a [len(statusNames)]any) {
	for i, n := range statusNames {
		a[i] = n
	}
	return a
}()

// emptyArg is "": a Running write's final status, and the server clock's
// "now".
var emptyArg any = ""

// finalStatusArg is the status argument of a write of entries: the
// Finished entry's status, or "".
func finalStatusArg(entries []Entry) any {
	if n := len(entries); n > 0 && entries[n-1].Kind == Finished {
		if st := entries[n-1].Status; st >= 0 && int(st) < len(statusArgs) {
			return statusArgs[st]
		}
		return entries[n-1].Status.String()
	}
	return emptyArg
}

// reset points a at the saga (saga, id) of l: its keys are built in one
// allocation, and the id boxed.
func (a *redisArgs) reset(l *RedisLog, saga, id string) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	base := l.shardBase(saga, h.Sum32()%l.shards)
	// One string holding the three keys, sliced: base h: id base e: id base run.
	all := base + "h:" + id + base + "e:" + id + base + "run"
	n1 := len(base) + 2 + len(id)
	a.kbuf = [3]string{all[:n1], all[n1 : 2*n1], all[2*n1:]}
	a.keys = a.kbuf[:]
	a.id = id
	a.tok, a.token = nil, 0
}

// token returns the token argument, boxing it only when it changed.
func (a *redisArgs) tokenArg(token int64) any {
	if a.tok == nil || a.token != token {
		a.tok, a.token = strconv.FormatInt(token, 10), token
	}
	return a.tok
}

// encode appends the entries' JSON to a.args, one argument each. trusted:
// every entry's Data is the compact JSON that encoding/json made (a Saga's
// own run), so it is copied as it is; otherwise it is validated and
// compacted, as json.Marshal would.
func (a *redisArgs) encode(entries []Entry, trusted bool) error {
	a.buf = a.buf[:0]
	if cap(a.ents) < len(entries) {
		a.ents = make([]entryArg, len(entries))
	}
	a.ents = a.ents[:len(entries)]
	for i := range entries {
		start := len(a.buf)
		var err error
		if a.buf, err = appendEntryJSON(a.buf, &entries[i], trusted); err != nil {
			return err
		}
		a.ents[i].n = len(a.buf) - start
	}
	// buf may have moved while it grew: slice it once it is whole.
	start := 0
	for i := range a.ents {
		end := start + a.ents[i].n
		a.ents[i].b = a.buf[start:end:end]
		a.args = append(a.args, &a.ents[i])
		start = end
	}
	return nil
}
