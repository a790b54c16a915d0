package main

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckRecordings(t *testing.T) {
	answered := time.Unix(1000, 0)
	call := func(id string, secs float64) apiCall {
		return apiCall{ID: id, Number: "+15550100", Outcome: "answered", AnsweredAt: &answered, DurationSeconds: secs}
	}
	// A complete recording of a secs-long call that starts with a 3 s consent.
	good := func(id string, secs float64) recordedCall {
		return recordedCall{call: call(id, secs), rec: &apiRecording{CallID: id, DurationSeconds: secs + 3,
			Bytes: int64(44 + (secs+3)*recBytesPerSecond), Channels: 2, State: "complete", ConsentPlayed: true}}
	}
	with := func(rc recordedCall, edit func(*apiRecording)) recordedCall {
		r := *rc.rec
		edit(&r)
		rc.rec = &r
		return rc
	}
	tests := []struct {
		name     string
		calls    []recordedCall
		expected int
		want     recCheck // the counts and figures compared below
		problems int
	}{
		{
			name:     "all complete",
			calls:    []recordedCall{good("a", 30), good("b", 31), good("c", 32)},
			expected: 3,
			want:     recCheck{expected: 3, answered: 3, complete: 3, seconds: 102, prelude: 3, deviation: 0},
		},
		{
			name:     "one call without a recording",
			calls:    []recordedCall{good("a", 30), {call: call("b", 30)}},
			expected: 2,
			want:     recCheck{expected: 2, answered: 2, complete: 1, missing: 1, seconds: 33, prelude: 3},
			problems: 1,
		},
		{
			name:     "fewer answered calls in the log than the load generator had",
			calls:    []recordedCall{good("a", 30)},
			expected: 3,
			want:     recCheck{expected: 3, answered: 1, complete: 1, missing: 2, seconds: 33, prelude: 3},
			problems: 1,
		},
		{
			name: "dropped packets count even on a complete recording",
			calls: []recordedCall{good("a", 30), with(good("b", 30), func(r *apiRecording) { r.DroppedPackets = 7 }),
				with(good("c", 30), func(r *apiRecording) { r.DroppedPackets = 2 })},
			expected: 3,
			want:     recCheck{expected: 3, answered: 3, complete: 3, dropped: 9, droppedCalls: 2, seconds: 99, prelude: 3},
			problems: 2,
		},
		{
			name: "still recording, no consent, or mono is incomplete",
			calls: []recordedCall{good("a", 30),
				with(good("b", 30), func(r *apiRecording) { r.State = "recording" }),
				with(good("c", 30), func(r *apiRecording) { r.ConsentPlayed = false }),
				with(good("d", 30), func(r *apiRecording) { r.Channels = 1 })},
			expected: 4,
			want:     recCheck{expected: 4, answered: 4, complete: 1, incomplete: 3, seconds: 33, prelude: 3},
			problems: 3,
		},
		{
			name: "a recording shorter than its call shows as deviation from the median prelude",
			calls: []recordedCall{good("a", 30), good("b", 30),
				with(good("c", 30), func(r *apiRecording) { r.DurationSeconds = 31.5 })},
			expected: 3,
			want:     recCheck{expected: 3, answered: 3, complete: 3, seconds: 97.5, prelude: 3, deviation: 1.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkRecordings(tt.calls, tt.expected)
			w := tt.want
			if got.expected != w.expected || got.answered != w.answered || got.complete != w.complete ||
				got.missing != w.missing || got.incomplete != w.incomplete || got.dropped != w.dropped ||
				got.droppedCalls != w.droppedCalls {
				t.Errorf("counts = %+v, want %+v", got, w)
			}
			if math.Abs(got.seconds-w.seconds) > 1e-9 || math.Abs(got.prelude-w.prelude) > 1e-9 ||
				math.Abs(got.deviation-w.deviation) > 1e-9 {
				t.Errorf("seconds/prelude/deviation = %v/%v/%v, want %v/%v/%v",
					got.seconds, got.prelude, got.deviation, w.seconds, w.prelude, w.deviation)
			}
			if len(got.problems) != tt.problems {
				t.Errorf("problems = %q, want %d of them", got.problems, tt.problems)
			}
		})
	}
}

func TestCheckRecordingsNone(t *testing.T) {
	c := checkRecordings(nil, 5)
	if c.missing != 5 || c.complete != 0 {
		t.Errorf("no recordings for 5 calls: %+v", c)
	}
	if !math.IsNaN(c.deviation) || !math.IsNaN(c.bytesPerMinute()) || !math.IsNaN(c.length.p50) {
		t.Errorf("figures without recordings = %v, %v, %v, want NaN", c.deviation, c.bytesPerMinute(), c.length.p50)
	}
}

func TestRecCheckBytesPerMinute(t *testing.T) {
	// 600 s of stereo 8 kHz 16-bit audio in ten files with 44-byte headers.
	c := recCheck{seconds: 600, bytes: 600*recBytesPerSecond + 10*44}
	if got, want := c.bytesPerMinute(), 1920000+44.0; math.Abs(got-want) > 1e-6 {
		t.Errorf("bytes per minute = %v, want %v", got, want)
	}
}

// fakeAPI serves a call log in pages of two and a recording for every call
// in recs, checking the bearer token.
func fakeAPI(t *testing.T, token string, calls []apiCall, recs map[string]apiRecording) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	authed := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+token {
				http.Error(w, `{"error":"sign in"}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/calls", authed(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("limit") != "500" {
			t.Errorf("limit = %q, want 500", r.URL.Query().Get("limit"))
		}
		start := 0
		if b := r.URL.Query().Get("before"); b != "" {
			for i, c := range calls {
				if c.ID == b {
					start = i
				}
			}
		}
		end := min(start+2, len(calls))
		page := apiCallPage{Calls: calls[start:end]}
		if end < len(calls) {
			page.Next = calls[end].ID
		}
		_ = json.NewEncoder(w).Encode(page)
	}))
	mux.HandleFunc("GET /api/calls/{id}/recording", authed(func(w http.ResponseWriter, r *http.Request) {
		rec, ok := recs[r.PathValue("id")]
		if !ok {
			http.Error(w, `{"error":"no recording"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(rec)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAPIClientRecordings(t *testing.T) {
	at := time.Unix(1000, 0)
	calls := []apiCall{
		{ID: "c5", Number: "+15550100", Outcome: "answered", AnsweredAt: &at, DurationSeconds: 30},
		{ID: "c4", Number: "+15550100", Outcome: "cancelled"},                                      // never answered: no recording expected
		{ID: "c3", Number: "+15550111", Outcome: "answered", AnsweredAt: &at, DurationSeconds: 30}, // another number
		{ID: "c2", Number: "+15550100", Outcome: "answered", AnsweredAt: &at, DurationSeconds: 30},
		{ID: "c1", Number: "+15550100", Outcome: "answered", AnsweredAt: &at, DurationSeconds: 30},
	}
	rec := apiRecording{DurationSeconds: 33, Bytes: 44 + 33*recBytesPerSecond, Channels: 2, State: "complete", ConsentPlayed: true}
	recs := map[string]apiRecording{"c5": rec, "c1": rec} // c2 has none
	srv := fakeAPI(t, "t", calls, recs)
	ctx := context.Background()

	api := newAPIClient(srv.URL+"/", "t")
	got, err := api.answeredCalls(ctx, "+15550100")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range got {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "c5,c2,c1" {
		t.Fatalf("answered calls over three pages = %v, want c5,c2,c1", ids)
	}
	rcs, err := api.recordingsOf(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	c := checkRecordings(rcs, 3)
	if c.complete != 2 || c.missing != 1 || c.prelude != 3 {
		t.Errorf("check = %+v, want 2 complete, 1 missing (c2), prelude 3 s", c)
	}

	if _, err := newAPIClient(srv.URL, "wrong").answeredCalls(ctx, "+15550100"); err == nil ||
		!strings.Contains(err.Error(), "401") || errors.Is(err, errAPINotFound) {
		t.Errorf("wrong token: %v, want a 401 error", err)
	}
}

func TestMeasureRecording(t *testing.T) {
	mk := func(active, dropped float64, disk int64) snapshot {
		return snapshot{disk: disk, metrics: scrape{values: map[string]float64{mRecActive: active, mRecDropped: dropped}}}
	}
	// 300 calls for 20 s: 300 x 20 x 32000 bytes.
	w := measureRecording(mk(300, 4, 1000), mk(300, 4, 1000+300*20*recBytesPerSecond), 20)
	if w.activeStart != 300 || w.activeEnd != 300 || w.dropped != 0 {
		t.Errorf("window = %+v", w)
	}
	if want := 300.0 * recBytesPerSecond * 60; math.Abs(w.diskPerMin-want) > 1e-6 {
		t.Errorf("disk per minute = %v, want %v", w.diskPerMin, want)
	}
	if w := measureRecording(mk(1, 0, -1), mk(1, 0, 5), 20); !math.IsNaN(w.diskPerMin) {
		t.Errorf("disk per minute without a start figure = %v, want NaN", w.diskPerMin)
	}
}

func TestRecordingsDisk(t *testing.T) {
	dir := t.TempDir()
	o := options{recorded: true, dataDir: dir}
	if n, err := recordingsDisk(o); err != nil || n != 0 {
		t.Errorf("before any recording: %d, %v; want 0", n, err)
	}
	sub := filepath.Join(dir, recordingsDir, "15550100")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, size := range map[string]int{"a.wav": 100, "b.wav": 250} {
		if err := os.WriteFile(filepath.Join(sub, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := recordingsDisk(o); err != nil || n != 350 {
		t.Errorf("two files: %d, %v; want 350", n, err)
	}
	if n, _ := recordingsDisk(options{dataDir: dir}); n != -1 {
		t.Errorf("not a recorded run: %d, want -1", n)
	}
}

// TestRecordedFields: a recorded run lists its recording figures, others do not.
func TestRecordedFields(t *testing.T) {
	has := func(r *result, key string) (string, bool) {
		for _, kv := range r.fields() {
			if kv[0] == key {
				return kv[1], true
			}
		}
		return "", false
	}
	if _, ok := has(&result{}, "rec_complete"); ok {
		t.Error("a plain relay run reports rec_complete")
	}
	c := checkRecordings(nil, 0)
	c.complete, c.dropped = 300, 0
	r := &result{recorded: true, established: 300, recCheck: &c,
		rec: recWindow{activeStart: 300, activeEnd: 300, diskPerMin: 300 * 1920000}}
	for k, want := range map[string]string{"rec_complete": "300", "rec_dropped_packets": "0",
		"recordings_active_end": "300.0", "rec_disk_bytes_per_min_per_call": "1920000",
		"rec_expected_bytes_per_min_per_call": "1920000"} {
		if got, _ := has(r, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
