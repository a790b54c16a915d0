package store

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// newRecording returns a valid recording (state and channels left empty) of
// a fresh call on numberA started at start.
func newRecording(start time.Time) *Recording {
	id := NewID(start)
	return &Recording{
		CallID:    id,
		Number:    numberA,
		File:      "recordings/" + id + ".wav",
		StartedAt: start,
	}
}

// createRecording stores r and fails the test on error.
func createRecording(t *testing.T, s *Store, r *Recording) {
	t.Helper()
	if err := s.CreateRecording(r); err != nil {
		t.Fatalf("CreateRecording(%s): %v", r.CallID, err)
	}
}

// bucketKeys returns the keys of the named bucket in order, never nil.
func bucketKeys(t *testing.T, s *Store, bucket []byte) []string {
	t.Helper()
	keys := []string{}
	if err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// inActiveIndex reports whether callID is in the active recording index.
func inActiveIndex(t *testing.T, s *Store, callID string) bool {
	t.Helper()
	var in bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		in = tx.Bucket(bucketRecordingsActive).Get([]byte(callID)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return in
}

// recordingCallIDs returns the call IDs of recs in order, never nil.
func recordingCallIDs(recs []Recording) []string {
	ids := []string{}
	for _, r := range recs {
		ids = append(ids, r.CallID)
	}
	return ids
}

func TestValidateRecording(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		mutate  func(*Recording)
		wantErr bool
	}{
		{"active stereo", func(*Recording) {}, false},
		{"complete mono with drops", func(r *Recording) { r.State, r.Channels, r.DroppedPackets = RecordingComplete, 1, 12 }, false},
		{"interrupted", func(r *Recording) { r.State = RecordingInterrupted }, false},
		{"explicit call id", func(r *Recording) { r.CallID = "call-7.a_B" }, false},
		{"started at the epoch", func(r *Recording) { r.StartedAt = time.Unix(0, 0) }, false},
		{"empty call id", func(r *Recording) { r.CallID = "" }, true},
		{"call id with slash would escape URLs", func(r *Recording) { r.CallID = "a/b" }, true},
		{"call id too long", func(r *Recording) { r.CallID = strings.Repeat("a", maxIDLength+1) }, true},
		{"number is required", func(r *Recording) { r.Number = "" }, true},
		{"number with NUL", func(r *Recording) { r.Number = "+1555\x00x" }, true},
		{"zero start", func(r *Recording) { r.StartedAt = time.Time{} }, true},
		{"start before 1970 breaks the time index", func(r *Recording) { r.StartedAt = time.Unix(-1, 0) }, true},
		{"start after 2262 breaks the time index", func(r *Recording) { r.StartedAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, true},
		{"empty state after create", func(r *Recording) { r.State = "" }, true},
		{"unknown state", func(r *Recording) { r.State = "paused" }, true},
		{"file required", func(r *Recording) { r.File = "" }, true},
		{"absolute file", func(r *Recording) { r.File = "/etc/passwd" }, true},
		{"file escapes data_dir", func(r *Recording) { r.File = "recordings/../../etc/passwd" }, true},
		{"backslash file", func(r *Recording) { r.File = `recordings\x.wav` }, true},
		{"negative duration", func(r *Recording) { r.DurationSeconds = -1 }, true},
		{"NaN duration", func(r *Recording) { r.DurationSeconds = math.NaN() }, true},
		{"infinite duration", func(r *Recording) { r.DurationSeconds = math.Inf(1) }, true},
		{"negative bytes", func(r *Recording) { r.Bytes = -1 }, true},
		{"zero channels after create", func(r *Recording) { r.Channels = 0 }, true},
		{"three channels", func(r *Recording) { r.Channels = 3 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecording(start)
			r.State, r.Channels = RecordingActive, 2
			tt.mutate(r)
			err := validateRecording(r)
			if tt.wantErr && !errors.Is(err, ErrInvalid) {
				t.Fatalf("validateRecording = %v, want ErrInvalid", err)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("validateRecording = %v, want nil", err)
			}
		})
	}
}

func TestRecordingCreateGetUpdateDelete(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.FixedZone("CEST", 7200))
	r := newRecording(start)
	r.ConsentPlayed = true
	createRecording(t, s, r)
	if r.State != RecordingActive || r.Channels != 2 {
		t.Fatalf("stored form state=%q channels=%d, want recording and 2", r.State, r.Channels)
	}
	if r.StartedAt.Location() != time.UTC || !r.StartedAt.Equal(start) {
		t.Fatalf("stored started_at = %v, want %v in UTC", r.StartedAt, start)
	}
	got, err := s.GetRecording(r.CallID)
	if err != nil {
		t.Fatalf("GetRecording: %v", err)
	}
	if !reflect.DeepEqual(got, *r) {
		t.Fatalf("GetRecording = %+v\nwant           %+v", got, *r)
	}
	if !inActiveIndex(t, s, r.CallID) {
		t.Fatal("new active recording not in the active index")
	}

	// The recorder grows the file, then closes it.
	grown, err := s.UpdateRecording(r.CallID, func(m *Recording) error {
		m.Bytes, m.DurationSeconds, m.DroppedPackets = 32044, 1, 3
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateRecording grow: %v", err)
	}
	if grown.Bytes != 32044 || grown.DroppedPackets != 3 || grown.State != RecordingActive || !inActiveIndex(t, s, r.CallID) {
		t.Fatalf("after grow: %+v, in index %t", grown, inActiveIndex(t, s, r.CallID))
	}
	done, err := s.UpdateRecording(r.CallID, func(m *Recording) error {
		m.State, m.Bytes, m.DurationSeconds = RecordingComplete, 320044, 10
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateRecording complete: %v", err)
	}
	if inActiveIndex(t, s, r.CallID) {
		t.Fatal("completed recording still in the active index")
	}
	if got, err := s.GetRecording(r.CallID); err != nil || !reflect.DeepEqual(got, done) {
		t.Fatalf("GetRecording after update = %+v, %v; want the returned %+v", got, err, done)
	}
	// Finished recordings may still be amended, e.g. with a corrected size.
	if fixed, err := s.UpdateRecording(r.CallID, func(m *Recording) error { m.Bytes = 320046; return nil }); err != nil || fixed.Bytes != 320046 {
		t.Fatalf("amend finished recording = %+v, %v", fixed, err)
	}

	deleted, err := s.DeleteRecording(r.CallID)
	if err != nil {
		t.Fatalf("DeleteRecording: %v", err)
	}
	if deleted.CallID != r.CallID || deleted.File != r.File || deleted.Bytes != 320046 {
		t.Fatalf("DeleteRecording returned %+v, want the stored record", deleted)
	}
	if _, err := s.GetRecording(r.CallID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetRecording after delete = %v, want ErrNotFound", err)
	}
	for _, b := range [][]byte{bucketRecordings, bucketRecordingsActive, bucketRecordingsByTime} {
		if keys := bucketKeys(t, s, b); len(keys) != 0 {
			t.Errorf("bucket %s holds %q after delete, want nothing", b, keys)
		}
	}
	if _, err := s.DeleteRecording(r.CallID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteRecording = %v, want ErrNotFound", err)
	}
}

func TestDeleteActiveRecordingClearsIndexes(t *testing.T) {
	s, _ := openTemp(t)
	keep := newRecording(time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC))
	gone := newRecording(keep.StartedAt.Add(time.Minute))
	createRecording(t, s, keep)
	createRecording(t, s, gone)
	if _, err := s.DeleteRecording(gone.CallID); err != nil {
		t.Fatalf("DeleteRecording: %v", err)
	}
	if got := bucketKeys(t, s, bucketRecordingsActive); !reflect.DeepEqual(got, []string{keep.CallID}) {
		t.Fatalf("active index after delete = %q, want [%s]", got, keep.CallID)
	}
	if got, want := bucketKeys(t, s, bucketRecordingsByTime), []string{string(recordingTimeKey(keep.StartedAt, keep.CallID))}; !reflect.DeepEqual(got, want) {
		t.Fatalf("time index after delete = %q, want %q", got, want)
	}
}

func TestCreateRecordingErrors(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Now()
	first := newRecording(start)
	first.CallID = "fixed-call"
	createRecording(t, s, first)
	with := func(mutate func(*Recording)) *Recording {
		r := newRecording(start)
		mutate(r)
		return r
	}
	tests := []struct {
		name string
		r    *Recording
		want error
	}{
		{"nil record", nil, ErrInvalid},
		{"second recording of a call", with(func(r *Recording) { r.CallID = "fixed-call" }), ErrExists},
		{"empty call id", with(func(r *Recording) { r.CallID = "" }), ErrInvalid},
		{"bad call id", with(func(r *Recording) { r.CallID = "no spaces" }), ErrInvalid},
		{"no number", with(func(r *Recording) { r.Number = "" }), ErrInvalid},
		{"zero start", with(func(r *Recording) { r.StartedAt = time.Time{} }), ErrInvalid},
		{"unknown state", with(func(r *Recording) { r.State = "lost" }), ErrInvalid},
		{"bad channels", with(func(r *Recording) { r.Channels = -2 }), ErrInvalid},
		{"absolute file", with(func(r *Recording) { r.File = "/tmp/x.wav" }), ErrInvalid},
		{"dot-dot file", with(func(r *Recording) { r.File = "recordings/../../x.wav" }), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before Recording
			if tt.r != nil {
				before = *tt.r
			}
			if err := s.CreateRecording(tt.r); !errors.Is(err, tt.want) {
				t.Fatalf("CreateRecording error = %v, want %v", err, tt.want)
			}
			if tt.r != nil && !reflect.DeepEqual(*tt.r, before) {
				t.Fatalf("failed CreateRecording changed its argument to %+v", *tt.r)
			}
		})
	}
	want := []string{"fixed-call"}
	for _, b := range [][]byte{bucketRecordings, bucketRecordingsActive} {
		if got := bucketKeys(t, s, b); !reflect.DeepEqual(got, want) {
			t.Errorf("bucket %s = %q, want %q (failed creates must not write)", b, got, want)
		}
	}
	if got := bucketKeys(t, s, bucketRecordingsByTime); len(got) != 1 {
		t.Errorf("time index holds %d entries, want 1 (failed creates must not index)", len(got))
	}
}

func TestUpdateRecordingRejections(t *testing.T) {
	s, _ := openTemp(t)
	r := newRecording(time.Now())
	r.State = RecordingComplete
	createRecording(t, s, r)
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(*Recording) error
		want error
	}{
		{"nil fn", nil, ErrInvalid},
		{"fn error writes nothing", func(m *Recording) error { m.Bytes = 99; return errBoom }, errBoom},
		{"call id change", func(m *Recording) error { m.CallID = NewID(time.Now()); return nil }, ErrInvalid},
		{"back to recording", func(m *Recording) error { m.State = RecordingActive; return nil }, ErrInvalid},
		{"invalid result", func(m *Recording) error { m.Bytes = 99; m.File = "../x"; return nil }, ErrInvalid},
		{"invalid start", func(m *Recording) error { m.StartedAt = time.Time{}; return nil }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.UpdateRecording(r.CallID, tt.fn); !errors.Is(err, tt.want) {
				t.Fatalf("UpdateRecording error = %v, want %v", err, tt.want)
			}
			got, err := s.GetRecording(r.CallID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, *r) {
				t.Fatalf("rejected update changed the record: %+v", got)
			}
		})
	}
	if inActiveIndex(t, s, r.CallID) {
		t.Fatal("rejected move back to recording touched the active index")
	}
	if got, want := bucketKeys(t, s, bucketRecordingsByTime), []string{string(recordingTimeKey(r.StartedAt, r.CallID))}; !reflect.DeepEqual(got, want) {
		t.Fatalf("rejected updates changed the time index to %q", got)
	}
}

func TestRecordingNotFound(t *testing.T) {
	s, _ := openTemp(t)
	missing := NewID(time.Now())
	if _, err := s.GetRecording(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetRecording missing = %v, want ErrNotFound", err)
	}
	called := false
	if _, err := s.UpdateRecording(missing, func(*Recording) error { called = true; return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateRecording missing = %v, want ErrNotFound", err)
	}
	if called {
		t.Error("UpdateRecording ran fn for a missing record")
	}
	if _, err := s.DeleteRecording(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteRecording missing = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "../x", "a b"} {
		if _, err := s.GetRecording(bad); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrInvalid) {
			t.Errorf("GetRecording(%q) = %v, want ErrNotFound and ErrInvalid", bad, err)
		}
		if _, err := s.UpdateRecording(bad, func(*Recording) error { return nil }); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrInvalid) {
			t.Errorf("UpdateRecording(%q) = %v, want ErrNotFound and ErrInvalid", bad, err)
		}
		if _, err := s.DeleteRecording(bad); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrInvalid) {
			t.Errorf("DeleteRecording(%q) = %v, want ErrNotFound and ErrInvalid", bad, err)
		}
	}
}

func TestActiveRecordingsFollowsState(t *testing.T) {
	s, _ := openTemp(t)
	if recs, err := s.ActiveRecordings(); err != nil || recs == nil || len(recs) != 0 {
		t.Fatalf("empty store ActiveRecordings = %v, %v; want non-nil empty", recs, err)
	}
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	// Call IDs in the opposite order of start times: the result must follow
	// StartedAt, not the index's key order.
	var want []string
	for i, id := range []string{"call-c", "call-b", "call-a"} {
		r := newRecording(base.Add(time.Duration(i) * time.Second))
		r.CallID = id
		createRecording(t, s, r)
		want = append(want, id)
	}
	finished := newRecording(base.Add(-time.Hour))
	finished.State = RecordingComplete
	createRecording(t, s, finished)

	recs, err := s.ActiveRecordings()
	if err != nil || !reflect.DeepEqual(recordingCallIDs(recs), want) {
		t.Fatalf("ActiveRecordings = %v, %v; want oldest first %v", recordingCallIDs(recs), err, want)
	}
	// The startup repair interrupts one, the recorder finishes another.
	if _, err := s.UpdateRecording("call-c", func(r *Recording) error { r.State = RecordingInterrupted; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRecording("call-a", func(r *Recording) error { r.State = RecordingComplete; return nil }); err != nil {
		t.Fatal(err)
	}
	recs, err = s.ActiveRecordings()
	if err != nil || !reflect.DeepEqual(recordingCallIDs(recs), []string{"call-b"}) {
		t.Fatalf("ActiveRecordings after state changes = %v, %v; want [call-b]", recordingCallIDs(recs), err)
	}
	if recs[0].State != RecordingActive || recs[0].Number != numberA || recs[0].Channels != 2 {
		t.Fatalf("active recording decoded wrong: %+v", recs[0])
	}
	if _, err := s.DeleteRecording("call-b"); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.ActiveRecordings(); err != nil || len(recs) != 0 {
		t.Fatalf("ActiveRecordings after delete = %v, %v; want none", recordingCallIDs(recs), err)
	}
}

func TestRecordingsBefore(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	add := func(id string, start time.Time, state RecordingState) {
		t.Helper()
		r := newRecording(start)
		r.CallID, r.State = id, state
		createRecording(t, s, r)
	}
	// Created out of time order; "tie-a" and "tie-b" share a start time.
	add("m3", base.Add(3*time.Minute), RecordingComplete)
	add("m0", base, RecordingInterrupted)
	add("tie-b", base.Add(time.Minute), RecordingComplete)
	add("tie-a", base.Add(time.Minute), RecordingComplete)
	add("live", base.Add(30*time.Second), RecordingActive) // file still open: never swept
	add("m5", base.Add(5*time.Minute), RecordingComplete)

	tests := []struct {
		name  string
		t     time.Time
		limit int
		want  []string
	}{
		{"all, oldest first, ties by call id", base.Add(time.Hour), 100, []string{"m0", "tie-a", "tie-b", "m3", "m5"}},
		{"limit", base.Add(time.Hour), 2, []string{"m0", "tie-a"}},
		{"limit counts only returned recordings", base.Add(time.Hour), 3, []string{"m0", "tie-a", "tie-b"}},
		{"cutoff is exclusive", base.Add(3 * time.Minute), 100, []string{"m0", "tie-a", "tie-b"}},
		{"one nanosecond later includes it", base.Add(3*time.Minute + 1), 100, []string{"m0", "tie-a", "tie-b", "m3"}},
		{"cutoff at the oldest", base, 100, []string{}},
		{"cutoff before 1970", time.Unix(-100, 0), 100, []string{}},
		{"cutoff past 2262", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), 100, []string{"m0", "tie-a", "tie-b", "m3", "m5"}},
		{"cutoff in another zone", base.Add(2 * time.Minute).In(time.FixedZone("X", -5*3600)), 100, []string{"m0", "tie-a", "tie-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := s.RecordingsBefore(tt.t, tt.limit)
			if err != nil {
				t.Fatalf("RecordingsBefore: %v", err)
			}
			if recs == nil {
				t.Fatal("RecordingsBefore returned nil, want an empty slice")
			}
			if got := recordingCallIDs(recs); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("RecordingsBefore(%v, %d) = %v, want %v", tt.t, tt.limit, got, tt.want)
			}
			for _, r := range recs {
				if !r.StartedAt.Before(tt.t) || r.State == RecordingActive {
					t.Fatalf("returned %+v, not a finished recording before %v", r, tt.t)
				}
			}
		})
	}

	// Moving a start time moves the index entry with it.
	if _, err := s.UpdateRecording("m5", func(r *Recording) error { r.StartedAt = base.Add(-time.Minute); return nil }); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.RecordingsBefore(base.Add(time.Second), 100); err != nil || !reflect.DeepEqual(recordingCallIDs(recs), []string{"m5", "m0"}) {
		t.Fatalf("after moving m5 earlier RecordingsBefore = %v, %v; want [m5 m0]", recordingCallIDs(recs), err)
	}
	if n := len(bucketKeys(t, s, bucketRecordingsByTime)); n != 6 {
		t.Fatalf("time index holds %d entries after moving one, want 6", n)
	}
	// Finishing the live recording makes it sweepable.
	if _, err := s.UpdateRecording("live", func(r *Recording) error { r.State = RecordingComplete; return nil }); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.RecordingsBefore(base.Add(time.Minute), 100); err != nil || !reflect.DeepEqual(recordingCallIDs(recs), []string{"m5", "m0", "live"}) {
		t.Fatalf("after finishing live RecordingsBefore = %v, %v; want [m5 m0 live]", recordingCallIDs(recs), err)
	}

	for _, bad := range []struct {
		t     time.Time
		limit int
	}{{time.Time{}, 10}, {base, 0}, {base, -1}} {
		if _, err := s.RecordingsBefore(bad.t, bad.limit); !errors.Is(err, ErrInvalid) {
			t.Errorf("RecordingsBefore(%v, %d) = %v, want ErrInvalid", bad.t, bad.limit, err)
		}
	}
}

// TestRecordingsBeforeSweepTerminates runs the retention loop the way its
// caller does: take a batch, delete it, ask again until nothing is left.
func TestRecordingsBeforeSweepTerminates(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	const n = 7
	for i := range n {
		r := newRecording(base.Add(time.Duration(i) * time.Second))
		r.State = RecordingComplete
		createRecording(t, s, r)
	}
	live := newRecording(base)
	createRecording(t, s, live)
	var swept int
	for round := 0; ; round++ {
		if round > n {
			t.Fatal("sweep did not finish")
		}
		recs, err := s.RecordingsBefore(base.Add(time.Hour), 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if _, err := s.DeleteRecording(r.CallID); err != nil {
				t.Fatal(err)
			}
			swept++
		}
	}
	if swept != n {
		t.Fatalf("swept %d recordings, want %d", swept, n)
	}
	if _, err := s.GetRecording(live.CallID); err != nil {
		t.Fatalf("sweep removed the active recording: %v", err)
	}
}

func TestRecordingsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "recordings.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	active := newRecording(base)
	done := newRecording(base.Add(time.Second))
	done.State, done.Bytes, done.DurationSeconds, done.ConsentPlayed = RecordingComplete, 44, 0.5, true
	createRecording(t, s, active)
	createRecording(t, s, done)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if got, err := s.GetRecording(done.CallID); err != nil || !reflect.DeepEqual(got, *done) {
		t.Fatalf("GetRecording after reopen = %+v, %v; want %+v", got, err, *done)
	}
	if recs, err := s.ActiveRecordings(); err != nil || !reflect.DeepEqual(recordingCallIDs(recs), []string{active.CallID}) {
		t.Fatalf("ActiveRecordings after reopen = %v, %v; want [%s]", recordingCallIDs(recs), err, active.CallID)
	}
	if recs, err := s.RecordingsBefore(base.Add(time.Minute), 10); err != nil || !reflect.DeepEqual(recordingCallIDs(recs), []string{done.CallID}) {
		t.Fatalf("RecordingsBefore after reopen = %v, %v; want [%s]", recordingCallIDs(recs), err, done.CallID)
	}
}

func TestConcurrentRecordings(t *testing.T) {
	s, _ := openTemp(t)
	const n = 20
	base := time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Same StartedAt everywhere: the time index must keep them apart by call ID.
			r := newRecording(base)
			r.CallID = fmt.Sprintf("call-%02d", i)
			if err := s.CreateRecording(r); err != nil {
				t.Errorf("CreateRecording %d: %v", i, err)
				return
			}
			// A racing second recorder for the same call must be refused.
			if err := s.CreateRecording(newRecordingFor(r.CallID, base)); !errors.Is(err, ErrExists) {
				t.Errorf("duplicate CreateRecording %d = %v, want ErrExists", i, err)
			}
			for range 3 {
				if _, err := s.UpdateRecording(r.CallID, func(m *Recording) error { m.Bytes += 320; return nil }); err != nil {
					t.Errorf("UpdateRecording grow %d: %v", i, err)
					return
				}
			}
			switch i % 3 {
			case 0: // still recording
			case 1:
				if _, err := s.UpdateRecording(r.CallID, func(m *Recording) error { m.State = RecordingComplete; return nil }); err != nil {
					t.Errorf("UpdateRecording complete %d: %v", i, err)
				}
			case 2:
				if _, err := s.DeleteRecording(r.CallID); err != nil {
					t.Errorf("DeleteRecording %d: %v", i, err)
				}
			}
		})
	}
	wg.Wait()

	var wantActive, wantDone []string
	for i := range n {
		id := fmt.Sprintf("call-%02d", i)
		got, err := s.GetRecording(id)
		switch i % 3 {
		case 0, 1:
			if err != nil || got.Bytes != 3*320 {
				t.Errorf("GetRecording(%s) = %+v, %v; want bytes %d", id, got, err, 3*320)
			}
			if i%3 == 0 {
				wantActive = append(wantActive, id)
			} else {
				wantDone = append(wantDone, id)
			}
		case 2:
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("GetRecording(%s) after delete = %v, want ErrNotFound", id, err)
			}
		}
	}
	if recs, err := s.ActiveRecordings(); err != nil || !reflect.DeepEqual(recordingCallIDs(recs), wantActive) {
		t.Errorf("ActiveRecordings = %v, %v; want %v", recordingCallIDs(recs), err, wantActive)
	}
	if recs, err := s.RecordingsBefore(base.Add(time.Second), 100); err != nil || !reflect.DeepEqual(recordingCallIDs(recs), wantDone) {
		t.Errorf("RecordingsBefore = %v, %v; want %v", recordingCallIDs(recs), err, wantDone)
	}
	if got, want := len(bucketKeys(t, s, bucketRecordingsByTime)), len(wantActive)+len(wantDone); got != want {
		t.Errorf("time index holds %d entries, want %d", got, want)
	}
}

// newRecordingFor returns a valid recording of call callID started at start.
func newRecordingFor(callID string, start time.Time) *Recording {
	r := newRecording(start)
	r.CallID = callID
	return r
}

func TestRecordingsOnClosedStore(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	id := NewID(time.Now())
	checks := map[string]error{
		"CreateRecording": s.CreateRecording(newRecording(time.Now())),
	}
	_, checks["UpdateRecording"] = s.UpdateRecording(id, func(*Recording) error { return nil })
	_, checks["GetRecording"] = s.GetRecording(id)
	_, checks["DeleteRecording"] = s.DeleteRecording(id)
	_, checks["ActiveRecordings"] = s.ActiveRecordings()
	_, checks["RecordingsBefore"] = s.RecordingsBefore(time.Now(), 1)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s on closed store = %v, want ErrClosed", name, err)
		}
	}
}
