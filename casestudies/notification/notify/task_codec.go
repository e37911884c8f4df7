package notify

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// A task travels in its queue job's payload in a compact binary form — a
// version byte, then each field as a uvarint length and its bytes — since
// every delivery decodes one (JSON cost a worker several µs each). A
// payload that starts with '{' is a task an earlier version wrote in JSON
// and is read as such, so jobs queued in Redis across an upgrade still go
// out.
const taskFormat = 1

// encode returns t's payload.
func (t task) encode() []byte {
	fields := t.fields()
	n := 1
	for _, f := range fields {
		n += binary.MaxVarintLen32 + len(*f)
	}
	buf := make([]byte, 1, n)
	buf[0] = taskFormat
	for _, f := range fields {
		buf = binary.AppendUvarint(buf, uint64(len(*f)))
		buf = append(buf, *f...)
	}
	return buf
}

// fields lists t's fields in their encoded order.
func (t *task) fields() [6]*string {
	return [6]*string{&t.NotificationID, &t.UserID, &t.Channel, &t.Priority, &t.Subject, &t.Body}
}

var errBadTask = errors.New("notify: unreadable job payload")

// decodeTask reads a payload written by task.encode, or a JSON one.
func decodeTask(p []byte) (task, error) {
	var t task
	if len(p) > 0 && p[0] == '{' {
		err := json.Unmarshal(p, &t)
		return t, err
	}
	if len(p) == 0 || p[0] != taskFormat {
		return t, errBadTask
	}
	p = p[1:]
	for _, f := range t.fields() {
		n, size := binary.Uvarint(p)
		if size <= 0 || n > uint64(len(p)-size) {
			return task{}, errBadTask
		}
		*f = string(p[size : size+int(n)])
		p = p[size+int(n):]
	}
	if len(p) != 0 {
		return task{}, errBadTask
	}
	return t, nil
}
