package store

import (
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	numberA = "+15550100"
	numberB = "+15550199"
)

// newVoicemail returns a valid voicemail (state left empty) on number started at start.
func newVoicemail(number string, start time.Time) *Voicemail {
	return &Voicemail{
		CallID:    NewID(start.Add(-10 * time.Second)),
		Number:    number,
		Owner:     "alice",
		Caller:    "+4917012345",
		Greeting:  string(GreetingInHours),
		File:      "voicemail/" + strings.TrimPrefix(number, "+") + "/msg.wav",
		StartedAt: start,
	}
}

// inRecordingIndex reports whether id is in the recording index.
func inRecordingIndex(t *testing.T, s *Store, id string) bool {
	t.Helper()
	var in bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		in = tx.Bucket(bucketVoicemailsRecording).Get([]byte(id)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return in
}

// voicemailIDs returns the IDs of vms in order, never nil.
func voicemailIDs(vms []Voicemail) []string {
	ids := []string{}
	for _, v := range vms {
		ids = append(ids, v.ID)
	}
	return ids
}

func TestValidateVoicemail(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		mutate  func(*Voicemail)
		wantErr bool
	}{
		{"recording", func(*Voicemail) {}, false},
		{"complete after hours", func(v *Voicemail) { v.State, v.Greeting = VoicemailComplete, string(GreetingAfterHours) }, false},
		{"interrupted without greeting", func(v *Voicemail) { v.State, v.Greeting = VoicemailInterrupted, "" }, false},
		{"empty id", func(v *Voicemail) { v.ID = "" }, true},
		{"id with slash would escape URLs", func(v *Voicemail) { v.ID = "a/b" }, true},
		{"number is required", func(v *Voicemail) { v.Number = "" }, true},
		{"number with NUL breaks the index key", func(v *Voicemail) { v.Number = "+1555\x00x" }, true},
		{"number too long for a phone number", func(v *Voicemail) { v.Number = "+" + strings.Repeat("1", maxNumberLength) }, true},
		{"zero start", func(v *Voicemail) { v.StartedAt = time.Time{} }, true},
		{"empty state after create", func(v *Voicemail) { v.State = "" }, true},
		{"unknown state", func(v *Voicemail) { v.State = "paused" }, true},
		{"unknown greeting", func(v *Voicemail) { v.Greeting = "holiday" }, true},
		{"file required", func(v *Voicemail) { v.File = "" }, true},
		{"absolute file", func(v *Voicemail) { v.File = "/etc/passwd" }, true},
		{"file escapes data_dir", func(v *Voicemail) { v.File = "voicemail/../../etc/passwd" }, true},
		{"negative duration", func(v *Voicemail) { v.DurationSeconds = -1 }, true},
		{"NaN duration", func(v *Voicemail) { v.DurationSeconds = math.NaN() }, true},
		{"infinite duration", func(v *Voicemail) { v.DurationSeconds = math.Inf(1) }, true},
		{"negative bytes", func(v *Voicemail) { v.Bytes = -1 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVoicemail(numberA, start)
			v.ID, v.State = NewID(start), VoicemailRecording
			tt.mutate(v)
			err := validateVoicemail(v)
			if tt.wantErr && !errors.Is(err, ErrInvalid) {
				t.Fatalf("validateVoicemail = %v, want ErrInvalid", err)
			}
			if !tt.wantErr && err != nil {
				t.Fatalf("validateVoicemail = %v, want nil", err)
			}
		})
	}
}

func TestCheckFile(t *testing.T) {
	tests := []struct {
		file string
		ok   bool
		why  string
	}{
		{"voicemail/15550100/0123.wav", true, "plain relative path"},
		{"greeting.mp3", true, "single element"},
		{"voicemail/..hidden/x.wav", true, "element merely starting with dots"},
		{"", false, "empty"},
		{"/voicemail/x.wav", false, "absolute"},
		{"..", false, "parent directory"},
		{"../x.wav", false, "leading .. element"},
		{"a/../../x.wav", false, ".. element inside"},
		{"a/..", false, "trailing .. element"},
		{`voicemail\x.wav`, false, "backslash separator"},
		{"a\x00b", false, "NUL byte"},
		{".", false, "the data_dir itself"},
		{"./a.wav", false, "not clean: leading ./"},
		{"a//b.wav", false, "not clean: empty element"},
		{"voicemail/", false, "not clean: trailing slash names a directory"},
		{strings.Repeat("a", maxFileLength+1), false, "too long"},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			err := checkFile(tt.file)
			if tt.ok && err != nil {
				t.Fatalf("checkFile(%q) = %v, want nil", tt.file, err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("checkFile(%q) = %v, want ErrInvalid", tt.file, err)
			}
		})
	}
}

func TestVoicemailCreateGetUpdate(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Date(2025, 6, 1, 10, 0, 0, 0, time.FixedZone("CEST", 7200))
	v := newVoicemail(numberA, start)
	v.CallerID = &CallerID{Name: "Jan Kowalski", Company: "Acme"}
	if err := s.CreateVoicemail(v); err != nil {
		t.Fatalf("CreateVoicemail: %v", err)
	}
	if len(v.ID) != IDLength || v.ID[:16] != NewID(start)[:16] {
		t.Fatalf("CreateVoicemail set ID %q, want NewID(StartedAt)", v.ID)
	}
	if v.State != VoicemailRecording || v.StartedAt.Location() != time.UTC || !v.StartedAt.Equal(start) {
		t.Fatalf("stored form state=%q started_at=%v, want recording and UTC", v.State, v.StartedAt)
	}
	got, err := s.GetVoicemail(v.ID)
	if err != nil {
		t.Fatalf("GetVoicemail: %v", err)
	}
	if !reflect.DeepEqual(got, *v) {
		t.Fatalf("GetVoicemail = %+v\nwant           %+v", got, *v)
	}
	if !inRecordingIndex(t, s, v.ID) {
		t.Fatal("new recording voicemail not in the recording index")
	}

	// The recorder grows the file, then closes it.
	grown, err := s.UpdateVoicemail(v.ID, func(m *Voicemail) error { m.Bytes, m.DurationSeconds = 16044, 1; return nil })
	if err != nil {
		t.Fatalf("UpdateVoicemail grow: %v", err)
	}
	if grown.Bytes != 16044 || grown.State != VoicemailRecording || !inRecordingIndex(t, s, v.ID) {
		t.Fatalf("after grow: %+v, in index %t", grown, inRecordingIndex(t, s, v.ID))
	}
	done, err := s.UpdateVoicemail(v.ID, func(m *Voicemail) error {
		m.State, m.EndReason, m.Bytes, m.DurationSeconds = VoicemailComplete, "hangup", 160044, 10
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateVoicemail complete: %v", err)
	}
	if inRecordingIndex(t, s, v.ID) {
		t.Fatal("completed voicemail still in the recording index")
	}
	if got, err := s.GetVoicemail(v.ID); err != nil || !reflect.DeepEqual(got, done) {
		t.Fatalf("GetVoicemail after update = %+v, %v; want the returned %+v", got, err, done)
	}

	// Marking heard stores HeardAt in UTC; marking unheard clears it.
	heardAt := start.Add(time.Hour)
	heard, err := s.UpdateVoicemail(v.ID, func(m *Voicemail) error { m.Heard, m.HeardAt = true, &heardAt; return nil })
	if err != nil {
		t.Fatalf("mark heard: %v", err)
	}
	if !heard.Heard || heard.HeardAt == nil || !heard.HeardAt.Equal(heardAt) || heard.HeardAt.Location() != time.UTC {
		t.Fatalf("heard record = %+v", heard)
	}
	unheard, err := s.UpdateVoicemail(v.ID, func(m *Voicemail) error { m.Heard = false; return nil })
	if err != nil {
		t.Fatalf("mark unheard: %v", err)
	}
	if unheard.Heard || unheard.HeardAt != nil {
		t.Fatalf("unheard record kept heard_at: %+v", unheard)
	}
}

func TestUpdateVoicemailRejections(t *testing.T) {
	s, _ := openTemp(t)
	v := newVoicemail(numberA, time.Now())
	v.State = VoicemailComplete
	if err := s.CreateVoicemail(v); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	tests := []struct {
		name string
		fn   func(*Voicemail) error
		want error
	}{
		{"nil fn", nil, ErrInvalid},
		{"fn error writes nothing", func(m *Voicemail) error { m.Caller = "changed"; return errBoom }, errBoom},
		{"id change", func(m *Voicemail) error { m.ID = NewID(time.Now()); return nil }, ErrInvalid},
		{"number change", func(m *Voicemail) error { m.Number = numberB; return nil }, ErrInvalid},
		{"back to recording", func(m *Voicemail) error { m.State = VoicemailRecording; return nil }, ErrInvalid},
		{"invalid result", func(m *Voicemail) error { m.Caller = "changed"; m.File = "../x"; return nil }, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.UpdateVoicemail(v.ID, tt.fn); !errors.Is(err, tt.want) {
				t.Fatalf("UpdateVoicemail error = %v, want %v", err, tt.want)
			}
			got, err := s.GetVoicemail(v.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, *v) {
				t.Fatalf("rejected update changed the record: %+v", got)
			}
		})
	}
	if inRecordingIndex(t, s, v.ID) {
		t.Fatal("rejected move back to recording touched the recording index")
	}
}

func TestCreateVoicemailErrors(t *testing.T) {
	s, _ := openTemp(t)
	start := time.Now()
	first := newVoicemail(numberA, start)
	first.ID = "fixed-id"
	if err := s.CreateVoicemail(first); err != nil {
		t.Fatalf("CreateVoicemail with explicit ID: %v", err)
	}
	with := func(mutate func(*Voicemail)) *Voicemail {
		v := newVoicemail(numberA, start)
		mutate(v)
		return v
	}
	tests := []struct {
		name string
		v    *Voicemail
		want error
	}{
		{"nil record", nil, ErrInvalid},
		{"duplicate id", with(func(v *Voicemail) { v.ID = "fixed-id" }), ErrExists},
		{"bad id", with(func(v *Voicemail) { v.ID = "no spaces" }), ErrInvalid},
		{"no number", with(func(v *Voicemail) { v.Number = "" }), ErrInvalid},
		{"zero start", with(func(v *Voicemail) { v.StartedAt = time.Time{} }), ErrInvalid},
		{"unknown state", with(func(v *Voicemail) { v.State = "lost" }), ErrInvalid},
		{"unknown greeting", with(func(v *Voicemail) { v.Greeting = "weekend" }), ErrInvalid},
		{"absolute file", with(func(v *Voicemail) { v.File = "/tmp/x.wav" }), ErrInvalid},
		{"dot-dot file", with(func(v *Voicemail) { v.File = "voicemail/../../x.wav" }), ErrInvalid},
		{"backslash file", with(func(v *Voicemail) { v.File = `voicemail\x.wav` }), ErrInvalid},
		{"too large", with(func(v *Voicemail) { v.EndReason = strings.Repeat("x", maxRecordBytes) }), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateVoicemail(tt.v); !errors.Is(err, tt.want) {
				t.Fatalf("CreateVoicemail error = %v, want %v", err, tt.want)
			}
		})
	}
	all, _, err := s.ListVoicemails("", ListOptions{})
	if err != nil || !reflect.DeepEqual(voicemailIDs(all), []string{"fixed-id"}) {
		t.Fatalf("stored voicemails = %v, %v; want only fixed-id (failed creates must not write)", voicemailIDs(all), err)
	}
	if recs, err := s.RecordingVoicemails(); err != nil || len(recs) != 1 {
		t.Fatalf("RecordingVoicemails = %d, %v; want 1 (failed creates must not index)", len(recs), err)
	}
}

func TestVoicemailNotFound(t *testing.T) {
	s, _ := openTemp(t)
	missing := NewID(time.Now())
	if _, err := s.GetVoicemail(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetVoicemail missing = %v, want ErrNotFound", err)
	}
	called := false
	if _, err := s.UpdateVoicemail(missing, func(*Voicemail) error { called = true; return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateVoicemail missing = %v, want ErrNotFound", err)
	}
	if called {
		t.Error("UpdateVoicemail ran fn for a missing record")
	}
	if _, err := s.DeleteVoicemail(missing); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteVoicemail missing = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", "../x", "a b"} {
		if _, err := s.GetVoicemail(bad); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrInvalid) {
			t.Errorf("GetVoicemail(%q) = %v, want ErrNotFound and ErrInvalid", bad, err)
		}
		if _, err := s.DeleteVoicemail(bad); !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrInvalid) {
			t.Errorf("DeleteVoicemail(%q) = %v, want ErrNotFound and ErrInvalid", bad, err)
		}
	}
}

// createVoicemails stores one voicemail per entry of numbers, the i-th
// started i minutes after base, and returns their IDs by number, oldest first.
func createVoicemails(t *testing.T, s *Store, base time.Time, numbers []string) map[string][]string {
	t.Helper()
	ids := map[string][]string{}
	for i, n := range numbers {
		v := newVoicemail(n, base.Add(time.Duration(i)*time.Minute))
		v.State = VoicemailComplete
		if err := s.CreateVoicemail(v); err != nil {
			t.Fatalf("CreateVoicemail %d: %v", i, err)
		}
		ids[n] = append(ids[n], v.ID)
		ids[""] = append(ids[""], v.ID)
	}
	return ids
}

// reversed returns a reversed copy of ids.
func reversed(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

func TestListVoicemailsPagingAcrossNumbers(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	// Interleaved, so every number's messages have the other's in between.
	ids := createVoicemails(t, s, base, []string{
		numberA, numberB, numberA, numberA, numberB, numberA, numberB, numberA, numberA, numberB, numberA,
	})
	tests := []struct {
		number string
		limit  int
		sizes  []int
	}{
		{numberA, 3, []int{3, 3, 1}},
		{numberB, 2, []int{2, 2}},
		{"", 4, []int{4, 4, 3}},
		{numberA, 7, []int{7}},
		{numberB, 50, []int{4}},
	}
	for _, tt := range tests {
		var got []string
		var sizes []int
		cursor := ""
		for {
			page, next, err := s.ListVoicemails(tt.number, ListOptions{Limit: tt.limit, Before: cursor})
			if err != nil {
				t.Fatalf("ListVoicemails(%q, before=%q): %v", tt.number, cursor, err)
			}
			sizes = append(sizes, len(page))
			for _, v := range page {
				if tt.number != "" && v.Number != tt.number {
					t.Fatalf("listing %q returned %s of %q", tt.number, v.ID, v.Number)
				}
			}
			got = append(got, voicemailIDs(page)...)
			if next == "" {
				break
			}
			if next != page[len(page)-1].ID {
				t.Fatalf("next = %q, want last ID of page %q", next, page[len(page)-1].ID)
			}
			if len(sizes) > len(tt.sizes) {
				t.Fatalf("number %q limit %d: more pages than %v", tt.number, tt.limit, tt.sizes)
			}
			cursor = next
		}
		if !reflect.DeepEqual(sizes, tt.sizes) {
			t.Errorf("number %q limit %d: page sizes %v, want %v", tt.number, tt.limit, sizes, tt.sizes)
		}
		if want := reversed(ids[tt.number]); !reflect.DeepEqual(got, want) {
			t.Errorf("number %q listed %v\nwant newest first %v", tt.number, got, want)
		}
	}
}

func TestListVoicemailsCursorAndArguments(t *testing.T) {
	s, _ := openTemp(t)
	if page, next, err := s.ListVoicemails(numberA, ListOptions{}); err != nil || page == nil || len(page) != 0 || next != "" {
		t.Fatalf("empty store ListVoicemails = %v, %q, %v; want non-nil empty page", page, next, err)
	}
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	ids := createVoicemails(t, s, base, []string{numberB, numberA, numberB, numberA, numberB})
	a := ids[numberA] // [a0 a1], with B's messages before, between and after
	tests := []struct {
		name     string
		opt      ListOptions
		wantIDs  []string
		wantNext string
	}{
		{"exact fit has no next", ListOptions{Limit: 2}, []string{a[1], a[0]}, ""},
		{"limit 1", ListOptions{Limit: 1}, []string{a[1]}, a[1]},
		{"before newest", ListOptions{Before: a[1]}, []string{a[0]}, ""},
		{"before oldest", ListOptions{Before: a[0]}, []string{}, ""},
		{"cursor after all keys", ListOptions{Before: "ffffffffffffffffffffffff"}, []string{a[1], a[0]}, ""},
		{"cursor before all keys", ListOptions{Before: "0"}, []string{}, ""},
		{"cursor of another number's message", ListOptions{Before: ids[numberB][1]}, []string{a[0]}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, next, err := s.ListVoicemails(numberA, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := voicemailIDs(page); !reflect.DeepEqual(got, tt.wantIDs) || next != tt.wantNext {
				t.Fatalf("ListVoicemails(%+v) = %v, next %q; want %v, next %q", tt.opt, got, next, tt.wantIDs, tt.wantNext)
			}
		})
	}
	// A number that is a prefix of another must not see the longer number's messages.
	if page, _, err := s.ListVoicemails(numberA[:len(numberA)-1], ListOptions{}); err != nil || len(page) != 0 {
		t.Fatalf("prefix number listing = %v, %v; want empty", voicemailIDs(page), err)
	}
	if _, _, err := s.ListVoicemails(numberA, ListOptions{Before: "../bad"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid cursor error = %v, want ErrInvalid", err)
	}
	if _, _, err := s.ListVoicemails("+1\x00", ListOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("NUL number error = %v, want ErrInvalid", err)
	}
}

func TestDeleteVoicemail(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	keep := newVoicemail(numberA, base)
	gone := newVoicemail(numberA, base.Add(time.Minute))
	for _, v := range []*Voicemail{keep, gone} {
		if err := s.CreateVoicemail(v); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := s.DeleteVoicemail(gone.ID)
	if err != nil {
		t.Fatalf("DeleteVoicemail: %v", err)
	}
	if !reflect.DeepEqual(deleted, *gone) {
		t.Fatalf("DeleteVoicemail returned %+v, want %+v", deleted, *gone)
	}
	if _, err := s.GetVoicemail(gone.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetVoicemail after delete = %v, want ErrNotFound", err)
	}
	for _, number := range []string{numberA, ""} {
		page, _, err := s.ListVoicemails(number, ListOptions{})
		if err != nil || !reflect.DeepEqual(voicemailIDs(page), []string{keep.ID}) {
			t.Fatalf("ListVoicemails(%q) after delete = %v, %v; want [%s]", number, voicemailIDs(page), err, keep.ID)
		}
	}
	if inRecordingIndex(t, s, gone.ID) {
		t.Fatal("deleted voicemail still in the recording index")
	}
	recs, err := s.RecordingVoicemails()
	if err != nil || !reflect.DeepEqual(voicemailIDs(recs), []string{keep.ID}) {
		t.Fatalf("RecordingVoicemails after delete = %v, %v; want [%s]", voicemailIDs(recs), err, keep.ID)
	}
	var byNumber int
	if err := s.db.View(func(tx *bolt.Tx) error {
		byNumber = tx.Bucket(bucketVoicemailsByNumber).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if byNumber != 1 {
		t.Fatalf("by-number index holds %d entries after delete, want 1", byNumber)
	}
	if _, err := s.DeleteVoicemail(gone.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DeleteVoicemail = %v, want ErrNotFound", err)
	}
}

func TestRecordingVoicemailsFollowsState(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	var ids []string
	for i, n := range []string{numberA, numberB, numberA} {
		v := newVoicemail(n, base.Add(time.Duration(i)*time.Second))
		if err := s.CreateVoicemail(v); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	finished := newVoicemail(numberB, base.Add(time.Hour))
	finished.State = VoicemailComplete
	if err := s.CreateVoicemail(finished); err != nil {
		t.Fatal(err)
	}
	recs, err := s.RecordingVoicemails()
	if err != nil || !reflect.DeepEqual(voicemailIDs(recs), ids) {
		t.Fatalf("RecordingVoicemails = %v, %v; want oldest first %v", voicemailIDs(recs), err, ids)
	}
	// The startup repair moves one to interrupted, the recorder finishes another.
	if _, err := s.UpdateVoicemail(ids[0], func(v *Voicemail) error {
		v.State, v.EndReason = VoicemailInterrupted, "interrupted"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateVoicemail(ids[2], func(v *Voicemail) error {
		v.State, v.EndReason = VoicemailComplete, "silence"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	recs, err = s.RecordingVoicemails()
	if err != nil || !reflect.DeepEqual(voicemailIDs(recs), ids[1:2]) {
		t.Fatalf("RecordingVoicemails after state changes = %v, %v; want %v", voicemailIDs(recs), err, ids[1:2])
	}
	if recs[0].State != VoicemailRecording || recs[0].Number != numberB {
		t.Fatalf("recording voicemail decoded wrong: %+v", recs[0])
	}
}

func TestCountUnheard(t *testing.T) {
	s, _ := openTemp(t)
	base := time.Date(2025, 7, 1, 8, 0, 0, 0, time.UTC)
	add := func(number string, state VoicemailState, heard bool) {
		t.Helper()
		v := newVoicemail(number, base)
		v.State, v.Heard = state, heard
		if err := s.CreateVoicemail(v); err != nil {
			t.Fatal(err)
		}
	}
	add(numberA, VoicemailComplete, false)
	add(numberA, VoicemailInterrupted, false)
	add(numberA, VoicemailComplete, true)
	add(numberA, VoicemailRecording, false) // still being left: not news yet
	add(numberB, VoicemailComplete, false)
	tests := []struct {
		number string
		want   int
	}{
		{numberA, 2},
		{numberB, 1},
		{"", 3},
		{"+15550", 0}, // a prefix of both numbers owns no messages
	}
	for _, tt := range tests {
		if n, err := s.CountUnheard(tt.number); err != nil || n != tt.want {
			t.Errorf("CountUnheard(%q) = %d, %v; want %d", tt.number, n, err, tt.want)
		}
	}
	if _, err := s.CountUnheard("a\x00b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("CountUnheard with NUL = %v, want ErrInvalid", err)
	}
}

func TestConcurrentCreateVoicemail(t *testing.T) {
	s, _ := openTemp(t)
	const n = 20
	start := time.Now()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Same StartedAt everywhere: uniqueness must come from the random suffix.
			number := numberA
			if i%2 == 1 {
				number = numberB
			}
			v := newVoicemail(number, start)
			if err := s.CreateVoicemail(v); err != nil {
				t.Errorf("CreateVoicemail %d: %v", i, err)
				return
			}
			ids[i] = v.ID
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("duplicate ID %s", id)
		}
		seen[id] = true
		if _, err := s.GetVoicemail(id); err != nil {
			t.Errorf("GetVoicemail(%s): %v", id, err)
		}
	}
	for _, tt := range []struct {
		number string
		want   int
	}{{numberA, n / 2}, {numberB, n / 2}, {"", n}} {
		page, _, err := s.ListVoicemails(tt.number, ListOptions{Limit: maxListLimit})
		if err != nil || len(page) != tt.want {
			t.Errorf("ListVoicemails(%q) = %d, %v; want %d", tt.number, len(page), err, tt.want)
		}
	}
	if recs, err := s.RecordingVoicemails(); err != nil || len(recs) != n {
		t.Errorf("RecordingVoicemails = %d, %v; want %d", len(recs), err, n)
	}
}

func TestVoicemailsAndGreetingsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	recording := newVoicemail(numberA, start)
	done := newVoicemail(numberA, start.Add(time.Second))
	done.State = VoicemailComplete
	for _, v := range []*Voicemail{recording, done} {
		if err := s.CreateVoicemail(v); err != nil {
			t.Fatalf("CreateVoicemail: %v", err)
		}
	}
	g := Greeting{Number: numberA, Kind: GreetingAfterHours, File: "greetings/15550100/after_hours.mp3", UploadedAt: start}
	if err := s.PutGreeting(g); err != nil {
		t.Fatalf("PutGreeting: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	page, _, err := s.ListVoicemails(numberA, ListOptions{})
	if err != nil || !reflect.DeepEqual(page, []Voicemail{*done, *recording}) {
		t.Fatalf("ListVoicemails after reopen = %+v, %v", page, err)
	}
	recs, err := s.RecordingVoicemails()
	if err != nil || !reflect.DeepEqual(voicemailIDs(recs), []string{recording.ID}) {
		t.Fatalf("RecordingVoicemails after reopen = %v, %v; want [%s]", voicemailIDs(recs), err, recording.ID)
	}
	if got, err := s.GetGreeting(numberA, GreetingAfterHours); err != nil || !reflect.DeepEqual(got, g) {
		t.Fatalf("GetGreeting after reopen = %+v, %v; want %+v", got, err, g)
	}
}

func TestVoicemailJSONShape(t *testing.T) {
	start := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	heard := start.Add(time.Hour)
	v := Voicemail{
		ID: "x", CallID: "c", Number: numberA, Owner: "alice", Caller: "+4917", CallerID: &CallerID{Name: "Ewa"},
		Greeting: "in_hours", File: "voicemail/15550100/x.wav", StartedAt: start, DurationSeconds: 12.5, Bytes: 200044,
		State: VoicemailComplete, EndReason: "dtmf", Heard: true, HeardAt: &heard,
	}
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "call_id", "number", "owner", "caller", "caller_id", "greeting", "file", "started_at",
		"duration_seconds", "bytes", "state", "end_reason", "heard", "heard_at"}
	if len(got) != len(want) {
		t.Errorf("got %d keys %v, want %d", len(got), got, len(want))
	}
	for _, k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("missing JSON key %q in %s", k, raw)
		}
	}
	if got["state"] != "complete" || got["heard"] != true || got["bytes"] != 200044.0 {
		t.Errorf("state/heard/bytes = %v/%v/%v in %s", got["state"], got["heard"], got["bytes"], raw)
	}
}

func TestVoicemailMethodsOnClosedStore(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	id := NewID(time.Now())
	checks := map[string]error{
		"CreateVoicemail": s.CreateVoicemail(newVoicemail(numberA, time.Now())),
		"PutGreeting":     s.PutGreeting(Greeting{Number: numberA, Kind: GreetingInHours, File: "g.wav", UploadedAt: time.Now()}),
	}
	_, checks["UpdateVoicemail"] = s.UpdateVoicemail(id, func(*Voicemail) error { return nil })
	_, checks["GetVoicemail"] = s.GetVoicemail(id)
	_, _, checks["ListVoicemails"] = s.ListVoicemails("", ListOptions{})
	_, checks["DeleteVoicemail"] = s.DeleteVoicemail(id)
	_, checks["RecordingVoicemails"] = s.RecordingVoicemails()
	_, checks["CountUnheard"] = s.CountUnheard(numberA)
	_, checks["GetGreeting"] = s.GetGreeting(numberA, GreetingInHours)
	_, checks["DeleteGreeting"] = s.DeleteGreeting(numberA, GreetingInHours)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: error = %v, want ErrClosed", name, err)
		}
	}
}
