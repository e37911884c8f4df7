package saga

import (
	"encoding/json"
	"fmt"
	"time"
)

// wireEntry is an Entry as JSON in Redis: appendEntryJSON writes it,
// decodeRecord reads it with encoding/json.
type wireEntry struct {
	Kind     string            `json:"k"`
	Step     int               `json:"s"`
	StepName string            `json:"n,omitempty"`
	Attempts int               `json:"a,omitempty"`
	Duration int64             `json:"d,omitempty"`
	Err      string            `json:"e,omitempty"`
	Status   string            `json:"st,omitempty"`
	At       int64             `json:"t"`
	Data     json.RawMessage   `json:"data,omitempty"`
	Meta     map[string]string `json:"m,omitempty"`
}

func decodeRecord(saga, id string, status, entries any) (*Record, error) {
	s, _ := status.(string)
	st, ok := statusByName(s)
	if !ok {
		return nil, fmt.Errorf("%w: status %q", errBadReply, s)
	}
	list, ok := entries.([]any)
	if !ok {
		return nil, errBadReply
	}
	rec := &Record{Saga: saga, ID: id, Status: st, Entries: make([]Entry, len(list))}
	for i, v := range list {
		raw, _ := v.(string)
		var w wireEntry
		if err := json.Unmarshal([]byte(raw), &w); err != nil {
			return nil, fmt.Errorf("saga: redis log: entry %d of %s/%s: %w", i+1, saga, id, err)
		}
		k, ok := kindByName(w.Kind)
		if !ok {
			return nil, fmt.Errorf("saga: redis log: entry %d of %s/%s: unknown kind %q", i+1, saga, id, w.Kind)
		}
		e := &rec.Entries[i]
		*e = Entry{Kind: k, Step: w.Step, StepName: w.StepName, Attempts: w.Attempts, Duration: time.Duration(w.Duration),
			Err: w.Err, At: time.Unix(0, w.At), Data: w.Data, Metadata: w.Meta}
		if k == Finished {
			e.Status, _ = statusByName(w.Status)
		}
	}
	return rec, nil
}
