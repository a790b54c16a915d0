package store

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// newRecord returns a valid open inbound record started at start.
func newRecord(start time.Time) *CallRecord {
	return &CallRecord{
		Direction: DirectionInbound,
		Number:    "+4930123456",
		Caller:    "+4917012345",
		Callee:    "alice",
		Trunk:     "sipgate",
		Legs:      []Leg{{Role: "caller", Kind: "sip", Peer: "sip:+4917012345@trunk", CallID: "abc@host", Remote: "127.0.0.1:5060", Codec: "PCMA"}},
		StartedAt: start,
	}
}

// isOpen reports whether id is in the open index.
func isOpen(t *testing.T, s *Store, id string) bool {
	t.Helper()
	var open bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		open = tx.Bucket(bucketOpen).Get([]byte(id)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return open
}

func TestCreateGetUpdateRoundTrip(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.FixedZone("CEST", 7200))
	rec := newRecord(start)
	if err := s.CreateCall(rec); err != nil {
		t.Fatalf("CreateCall: %v", err)
	}
	if len(rec.ID) != IDLength || rec.ID[:16] != NewID(start)[:16] {
		t.Fatalf("CreateCall set ID %q, want NewID(StartedAt)", rec.ID)
	}
	got, err := s.GetCall(rec.ID)
	if err != nil {
		t.Fatalf("GetCall: %v", err)
	}
	if !reflect.DeepEqual(got, *rec) {
		t.Fatalf("GetCall = %+v\nwant      %+v", got, *rec)
	}
	if !got.StartedAt.Equal(start) || got.EndedAt != nil || got.Outcome != "" {
		t.Fatalf("stored record wrong: %+v", got)
	}
	if !isOpen(t, s, rec.ID) {
		t.Fatal("new record not in open index")
	}

	answered, ended := start.Add(5*time.Second), start.Add(65*time.Second)
	err = s.UpdateCall(rec.ID, func(r *CallRecord) error {
		r.AnsweredAt = &answered
		r.Legs = append(r.Legs, Leg{Role: "callee", Kind: "sip", Peer: "alice", Codec: "PCMA"})
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateCall answer: %v", err)
	}
	if !isOpen(t, s, rec.ID) {
		t.Fatal("answered (still open) record left open index")
	}
	err = s.UpdateCall(rec.ID, func(r *CallRecord) error {
		r.EndedAt, r.Outcome, r.HangupCause, r.HangupSide, r.SIPCode = &ended, OutcomeAnswered, "normal_clearing", "callee", 200
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateCall close: %v", err)
	}
	got, err = s.GetCall(rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DurationSeconds != 60 || got.Outcome != OutcomeAnswered || len(got.Legs) != 2 ||
		!got.EndedAt.Equal(ended) || !got.AnsweredAt.Equal(answered) || got.SIPCode != 200 {
		t.Fatalf("closed record wrong: %+v", got)
	}
	if isOpen(t, s, rec.ID) {
		t.Fatal("closed record still in open index")
	}
	// A closed record may still be amended but not reopened.
	if err := s.UpdateCall(rec.ID, func(r *CallRecord) error { r.HangupCause = "shutdown"; return nil }); err != nil {
		t.Fatalf("amend closed record: %v", err)
	}
	if err := s.UpdateCall(rec.ID, func(r *CallRecord) error { r.EndedAt, r.Outcome = nil, ""; return nil }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("reopen error = %v, want ErrInvalid", err)
	}
}

func TestCreateCallErrors(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Now()
	first := newRecord(start)
	first.ID = "fixed-id"
	if err := s.CreateCall(first); err != nil {
		t.Fatalf("CreateCall with explicit ID: %v", err)
	}
	tests := []struct {
		name string
		rec  *CallRecord
		want error
	}{
		{"nil record", nil, ErrInvalid},
		{"duplicate id", func() *CallRecord { r := newRecord(start); r.ID = "fixed-id"; return r }(), ErrExists},
		{"bad id", func() *CallRecord { r := newRecord(start); r.ID = "no/slashes"; return r }(), ErrInvalid},
		{"bad direction", func() *CallRecord { r := newRecord(start); r.Direction = "x"; return r }(), ErrInvalid},
		{"too large", func() *CallRecord {
			r := newRecord(start)
			for i := range 2000 {
				r.Legs = append(r.Legs, Leg{Role: "callee", Kind: "sip", Peer: fmt.Sprintf("sip:user-%d@example.invalid", i)})
			}
			return r
		}(), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateCall(tt.rec); !errors.Is(err, tt.want) {
				t.Fatalf("CreateCall error = %v, want %v", err, tt.want)
			}
		})
	}
	if n, err := s.CountCalls(); err != nil || n != 1 {
		t.Fatalf("CountCalls = %d, %v; want 1 (failed creates must not write)", n, err)
	}
}

func TestCreateClosedRecordIsNotOpen(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Now()
	end := start.Add(time.Second)
	rec := newRecord(start)
	rec.EndedAt, rec.Outcome = &end, OutcomeFailed
	if err := s.CreateCall(rec); err != nil {
		t.Fatal(err)
	}
	if isOpen(t, s, rec.ID) {
		t.Fatal("record created closed is in the open index")
	}
}

func TestNotFound(t *testing.T) {
	s, _ := openTemp(t)
	missing := NewID(time.Now())
	if _, err := s.GetCall(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetCall missing = %v, want ErrNotFound", err)
	}
	called := false
	err := s.UpdateCall(missing, func(*CallRecord) error { called = true; return nil })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateCall missing = %v, want ErrNotFound", err)
	}
	if called {
		t.Error("UpdateCall ran fn for a missing record")
	}
	for _, bad := range []string{"", "../x", "a b"} {
		if _, err := s.GetCall(bad); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrInvalid) {
			t.Errorf("GetCall(%q) = %v, want ErrNotFound and ErrInvalid", bad, err)
		}
	}
}

func TestUpdateCallRejections(t *testing.T) {
	s, _ := openTemp(t)
	rec := newRecord(time.Now())
	if err := s.CreateCall(rec); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(*CallRecord) error
		want error
	}{
		{"nil fn", nil, ErrInvalid},
		{"fn error", func(r *CallRecord) error { r.Caller = "changed"; return errBoom }, errBoom},
		{"id change", func(r *CallRecord) error { r.ID = "other"; return nil }, ErrInvalid},
		{"outcome without end", func(r *CallRecord) error { r.Caller = "changed"; r.Outcome = OutcomeBusy; return nil }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.UpdateCall(rec.ID, tt.fn); !errors.Is(err, tt.want) {
				t.Fatalf("UpdateCall error = %v, want %v", err, tt.want)
			}
			got, err := s.GetCall(rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, *rec) {
				t.Fatalf("rejected update changed the record: %+v", got)
			}
		})
	}
}

// TestUpdateCallFailureDoesNotAbortBatchPeers runs a failing update next to
// successful writes so they likely share one bbolt batch; the peers must land.
func TestUpdateCallFailureDoesNotAbortBatchPeers(t *testing.T) {
	s, _ := openTemp(t)
	rec := newRecord(time.Now())
	if err := s.CreateCall(rec); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 21)
	for range 20 {
		wg.Go(func() { errs <- s.CreateCall(newRecord(time.Now())) })
	}
	errBoom := errors.New("boom")
	wg.Go(func() {
		if err := s.UpdateCall(rec.ID, func(*CallRecord) error { return errBoom }); !errors.Is(err, errBoom) {
			errs <- fmt.Errorf("failing update returned %v", err)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n, err := s.CountCalls(); err != nil || n != 21 {
		t.Fatalf("CountCalls = %d, %v; want 21", n, err)
	}
}

func TestListCallsPaging(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	const total = 25
	var wg sync.WaitGroup
	ids := make([]string, total)
	for i := range total {
		wg.Go(func() {
			r := newRecord(base.Add(time.Duration(i) * time.Minute))
			if err := s.CreateCall(r); err != nil {
				t.Errorf("CreateCall %d: %v", i, err)
			}
			ids[i] = r.ID
		})
	}
	wg.Wait()

	var pages [][]CallRecord
	cursor := ""
	for {
		page, next, err := s.ListCalls(ListOptions{Limit: 10, Before: cursor})
		if err != nil {
			t.Fatalf("ListCalls(before=%q): %v", cursor, err)
		}
		pages = append(pages, page)
		if next == "" {
			break
		}
		if next != page[len(page)-1].ID {
			t.Fatalf("next = %q, want last ID of page %q", next, page[len(page)-1].ID)
		}
		if len(pages) > 3 {
			t.Fatal("more than 3 pages for 25 records at limit 10")
		}
		cursor = next
	}
	if sizes := []int{len(pages[0]), len(pages[1]), len(pages[2])}; len(pages) != 3 || !reflect.DeepEqual(sizes, []int{10, 10, 5}) {
		t.Fatalf("page sizes = %v (pages %d), want [10 10 5]", sizes, len(pages))
	}
	var got []string
	for _, p := range pages {
		for _, r := range p {
			got = append(got, r.ID)
		}
	}
	want := make([]string, total)
	for i := range total {
		want[i] = ids[total-1-i] // newest first
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listed IDs = %v\nwant newest first %v", got, want)
	}
}

func TestListCallsCursorAndLimits(t *testing.T) {
	s, _ := openTemp(t)
	if page, next, err := s.ListCalls(ListOptions{}); err != nil || len(page) != 0 || page == nil || next != "" {
		t.Fatalf("empty store ListCalls = %v, %q, %v; want non-nil empty page", page, next, err)
	}
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		r := newRecord(base.Add(time.Duration(i) * time.Second))
		if err := s.CreateCall(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	tests := []struct {
		name     string
		opt      ListOptions
		wantIDs  []string
		wantNext string
	}{
		{"default limit", ListOptions{}, []string{ids[2], ids[1], ids[0]}, ""},
		{"exact fit has no next", ListOptions{Limit: 3}, []string{ids[2], ids[1], ids[0]}, ""},
		{"limit 1", ListOptions{Limit: 1}, []string{ids[2]}, ids[2]},
		{"before middle", ListOptions{Before: ids[1]}, []string{ids[0]}, ""},
		{"before oldest", ListOptions{Before: ids[0]}, []string{}, ""},
		{"cursor after all keys", ListOptions{Before: "ffffffffffffffffffffffff"}, []string{ids[2], ids[1], ids[0]}, ""},
		{"cursor between keys", ListOptions{Before: ids[2][:16] + "0"}, []string{ids[1], ids[0]}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, next, err := s.ListCalls(tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, r := range page {
				got = append(got, r.ID)
			}
			if !reflect.DeepEqual(got, tt.wantIDs) || next != tt.wantNext {
				t.Fatalf("ListCalls(%+v) = %v, next %q; want %v, next %q", tt.opt, got, next, tt.wantIDs, tt.wantNext)
			}
		})
	}
	if _, _, err := s.ListCalls(ListOptions{Before: "../bad"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid cursor error = %v, want ErrInvalid", err)
	}
}

func TestListCallsLimitClamp(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range maxListLimit + 10 {
		wg.Go(func() {
			if err := s.CreateCall(newRecord(base.Add(time.Duration(i) * time.Second))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	tests := []struct {
		limit, want int
	}{
		{0, defaultListLimit},
		{-5, defaultListLimit},
		{7, 7},
		{maxListLimit + 1000, maxListLimit},
	}
	for _, tt := range tests {
		page, next, err := s.ListCalls(ListOptions{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != tt.want || next == "" {
			t.Errorf("Limit %d: got %d records, next %q; want %d and a cursor", tt.limit, len(page), next, tt.want)
		}
	}
}

func TestConcurrentCreateCall(t *testing.T) {
	s, _ := openTemp(t)
	const n = 50
	start := time.Now()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Same StartedAt everywhere: uniqueness must come from the random suffix.
			r := newRecord(start)
			if err := s.CreateCall(r); err != nil {
				t.Errorf("CreateCall %d: %v", i, err)
				return
			}
			ids[i] = r.ID
		})
	}
	wg.Wait()
	if n2, err := s.CountCalls(); err != nil || n2 != n {
		t.Fatalf("CountCalls = %d, %v; want %d", n2, err, n)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate ID %s", id)
		}
		seen[id] = true
		if _, err := s.GetCall(id); err != nil {
			t.Errorf("GetCall(%s): %v", id, err)
		}
	}
}

// BenchmarkCreateAndClose measures one call's worth of writes (create on
// ringing, update to closed on hangup) under parallel load, as the gateway does.
func BenchmarkCreateAndClose(b *testing.B) {
	s, _ := openTemp(b)
	b.SetParallelism(16) // many concurrent calls per CPU, as at ~200 setups/s
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := newRecord(time.Now())
			if err := s.CreateCall(r); err != nil {
				b.Error(err)
				return
			}
			err := s.UpdateCall(r.ID, func(c *CallRecord) error {
				now := time.Now()
				c.EndedAt, c.Outcome, c.HangupCause, c.HangupSide = &now, OutcomeMissed, "no_answer", "caller"
				return nil
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
