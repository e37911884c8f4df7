package queue_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sysdesign/patterns/queue"
)

func FuzzParsePriority(f *testing.F) {
	for _, s := range []string{"low", "NORMAL", "High", "critical", "", "urgent", "low\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := queue.ParsePriority(s)
		if err != nil {
			if !errors.Is(err, queue.ErrInvalidPriority) {
				t.Fatalf("ParsePriority(%q): %v, want ErrInvalidPriority", s, err)
			}
			return
		}
		if !strings.EqualFold(p.String(), s) {
			t.Fatalf("ParsePriority(%q) = %v", s, p)
		}
	})
}

// FuzzJobID: an ID is accepted exactly when it is 1–MaxIDLen bytes of
// [A-Za-z0-9._:-], and is never a panic.
func FuzzJobID(f *testing.F) {
	for _, s := range []string{"a", "order-17:receipt", "", "{tag}", "a b", "é", strings.Repeat("x", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		q, err := queue.NewMemory()
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		err = q.Enqueue(context.Background(), queue.Job{ID: id})
		valid := len(id) >= 1 && len(id) <= queue.MaxIDLen && strings.Trim(id,
			"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == ""
		if valid != (err == nil) {
			t.Fatalf("Enqueue(%q) = %v, valid %v", id, err, valid)
		}
		if err != nil && !errors.Is(err, queue.ErrInvalidJob) {
			t.Fatalf("Enqueue(%q) = %v, want ErrInvalidJob", id, err)
		}
	})
}
