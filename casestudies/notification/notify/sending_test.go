package notify

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A send that outlasts sendingRecordDelay shows as sending while it lasts,
// and its history has the sending entry once, before the outcome; a quick
// one gets the same history (see TestDeliversEveryChannel).
func TestSlowSendShowsAsSendingWhileItLasts(t *testing.T) {
	send := newBlockingSender()
	h := newHarness(t, func(c *Config) { c.Senders["push"] = send })
	id := h.post(map[string]any{"user_id": "ann", "channels": []string{"push"}, "body": "b"})
	<-send.entered
	v := h.waitStatus(id, "push", Sending)
	assert.Equal(t, 1, v.Channels["push"].Attempts)
	close(send.release)
	v = h.waitStatus(id, "push", Sent)
	assert.Equal(t, []Status{Queued, Sending, Sent}, statuses(v.Channels["push"]))
	var seen []Status
	for _, e := range h.statusEvents(id, "push") {
		seen = append(seen, e.Status)
	}
	assert.Equal(t, []Status{Queued, Sending, Sent}, seen, "observer events")
}
