package store

import (
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIDFixedWidthAndTimeOrdered(t *testing.T) {
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	times := []time.Time{
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), // clamped to 0
		time.Unix(0, 1),
		base,
		base.Add(time.Nanosecond),
		base.Add(time.Hour),
		time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), // clamped to max
	}
	ids := make([]string, len(times))
	for i, tm := range times {
		ids[i] = NewID(tm)
		if len(ids[i]) != IDLength {
			t.Fatalf("NewID(%v) = %q, length %d, want %d", tm, ids[i], len(ids[i]), IDLength)
		}
		if !validID(ids[i]) {
			t.Fatalf("NewID(%v) = %q is not a valid ID", tm, ids[i])
		}
		if strings.Trim(ids[i], "0123456789abcdef") != "" {
			t.Fatalf("NewID(%v) = %q is not lowercase hex", tm, ids[i])
		}
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("IDs not in time order: %q", ids)
	}
	if got := NewID(times[0])[:16]; got != "0000000000000000" {
		t.Errorf("pre-epoch time prefix = %s, want zeros", got)
	}
	if got := NewID(times[len(times)-1])[:16]; got != "7fffffffffffffff" {
		t.Errorf("far-future time prefix = %s, want max int64", got)
	}
}

func TestNewIDUniqueForSameInstant(t *testing.T) {
	now := time.Now()
	seen := make(map[string]bool)
	for range 1000 {
		id := NewID(now)
		if seen[id] {
			t.Fatalf("duplicate ID %s", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"", false},
		{NewID(time.Now()), true},
		{"call-1_a.b", true},
		{strings.Repeat("a", maxIDLength), true},
		{strings.Repeat("a", maxIDLength+1), false},
		{"../etc/passwd", false},
		{"has space", false},
		{"ümlaut", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		if got := validID(tt.id); got != tt.want {
			t.Errorf("validID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}
