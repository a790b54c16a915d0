package store

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestCloseInterrupted(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Date(2025, 8, 1, 9, 0, 0, 0, time.UTC)
	now := start.Add(10 * time.Minute)

	ringing := newRecord(start)
	answered := newRecord(start.Add(time.Second))
	finished := newRecord(start.Add(2 * time.Second))
	for _, r := range []*CallRecord{ringing, answered, finished} {
		if err := s.CreateCall(r); err != nil {
			t.Fatal(err)
		}
	}
	ans := start.Add(time.Minute) // 9 minutes before now
	if err := s.UpdateCall(answered.ID, func(r *CallRecord) error { r.AnsweredAt = &ans; return nil }); err != nil {
		t.Fatal(err)
	}
	end := start.Add(30 * time.Second)
	if err := s.UpdateCall(finished.ID, func(r *CallRecord) error {
		r.EndedAt, r.Outcome, r.HangupCause, r.HangupSide = &end, OutcomeCancelled, "caller_cancel", "caller"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before, err := s.GetCall(finished.ID)
	if err != nil {
		t.Fatal(err)
	}

	n, err := s.CloseInterrupted(now)
	if err != nil || n != 2 {
		t.Fatalf("CloseInterrupted = %d, %v; want 2", n, err)
	}
	tests := []struct {
		id           string
		wantDuration float64
	}{
		{ringing.ID, 0},
		{answered.ID, 540},
	}
	for _, tt := range tests {
		got, err := s.GetCall(tt.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.EndedAt == nil || !got.EndedAt.Equal(now) || got.Outcome != OutcomeInterrupted ||
			got.HangupSide != "system" || got.HangupCause != "gateway_restart" || got.DurationSeconds != tt.wantDuration {
			t.Errorf("swept record %s = %+v, want interrupted at %v with duration %v", tt.id, got, now, tt.wantDuration)
		}
		if isOpen(t, s, tt.id) {
			t.Errorf("swept record %s still in open index", tt.id)
		}
	}
	after, err := s.GetCall(finished.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Outcome != OutcomeCancelled || !after.EndedAt.Equal(*before.EndedAt) || after.HangupCause != before.HangupCause {
		t.Errorf("sweep touched a closed record: %+v", after)
	}

	// The sweep is idempotent: nothing is left open.
	if n, err := s.CloseInterrupted(now.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("second CloseInterrupted = %d, %v; want 0", n, err)
	}
}

func TestCloseInterruptedRepairsStaleIndex(t *testing.T) {
	s, _ := openTemp(t)
	// An index entry without a record (which no API path produces) must not
	// block startup; it is dropped.
	ghost := NewID(time.Now())
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOpen).Put([]byte(ghost), []byte{})
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CloseInterrupted(time.Now()); err != nil || n != 0 {
		t.Fatalf("CloseInterrupted = %d, %v; want 0", n, err)
	}
	if isOpen(t, s, ghost) {
		t.Fatal("stale index entry kept")
	}
}

func TestCloseInterruptedZeroTime(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.CloseInterrupted(time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("zero time error = %v, want ErrInvalid", err)
	}
}
