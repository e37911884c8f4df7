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
	if len(p) > 0 && p[0] == '{' {
		var t task
		err := json.Unmarshal(p, &t)
		return t, err
	}
	if len(p) == 0 || p[0] != taskFormat {
		return task{}, errBadTask
	}
	// One string holds every field (each is a slice of it): one
	// allocation per delivery instead of one per field.
	all := string(p[1:])
	at := 0
	var fields [6]string // in fields' order; not t's fields, which would move t to the heap
	for i := range fields {
		n, size := binary.Uvarint(p[1+at:])
		if size <= 0 || n > uint64(len(all)-at-size) {
			return task{}, errBadTask
		}
		at += size
		fields[i] = all[at : at+int(n)]
		at += int(n)
	}
	if at != len(all) {
		return task{}, errBadTask
	}
	return task{NotificationID: fields[0], UserID: fields[1], Channel: fields[2], Priority: fields[3],
		Subject: fields[4], Body: fields[5]}, nil
}
