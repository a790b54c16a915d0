package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Series a recorded run (-recorded) reads from the gateway's /metrics.
const (
	mRecActive  = "switchboard_recordings_active"
	mRecDropped = "switchboard_recording_dropped_packets_total"
)

const (
	// recBytesPerSecond is what a call recording costs on disk: the
	// gateway records stereo (caller left, answering side right) 8 kHz
	// 16-bit WAV whatever the codec.
	recBytesPerSecond = 8000 * 2 * 2
	// recordingsDir is where the gateway keeps call recordings, under data_dir.
	recordingsDir = "recordings"
	// recSettleLimit bounds the wait, after the BYEs, for every recorder
	// to drain its queue, close its file and complete its record.
	recSettleLimit = 30 * time.Second
	// apiPageLimit is the largest page GET /api/calls serves.
	apiPageLimit = 500
	// maxProblems caps the examples of bad recordings kept for the log.
	maxProblems = 5
)

// errAPINotFound is the API answering 404: for a recording, the call has none.
var errAPINotFound = errors.New("api: not found")

// apiCall is the part of a call log entry (GET /api/calls) a recorded run
// checks its recording against.
type apiCall struct {
	ID         string     `json:"id"`
	Number     string     `json:"number"`
	Outcome    string     `json:"outcome"`
	AnsweredAt *time.Time `json:"answered_at"`
	// DurationSeconds is answered to ended: what the recording's live
	// part should cover.
	DurationSeconds float64 `json:"duration_seconds"`
}

// apiCallPage is one page of GET /api/calls.
type apiCallPage struct {
	Calls []apiCall `json:"calls"`
	Next  string    `json:"next"`
}

// apiRecording is a call's recording record (GET /api/calls/{id}/recording).
type apiRecording struct {
	CallID          string  `json:"call_id"`
	File            string  `json:"file"`
	DurationSeconds float64 `json:"duration_seconds"`
	Bytes           int64   `json:"bytes"`
	Channels        int     `json:"channels"`
	DroppedPackets  uint64  `json:"dropped_packets"`
	State           string  `json:"state"`
	ConsentPlayed   bool    `json:"consent_played"`
}

// apiClient reads the gateway's REST API as a signed-in user.
type apiClient struct {
	base  string // scheme://host:port, no trailing slash
	token string
	http  *http.Client
}

// newAPIClient makes a client for the API at base with a bearer token.
func newAPIClient(base, token string) apiClient {
	return apiClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 10 * time.Second}}
}

// get fetches path (with its query) and decodes the JSON answer into v.
func (c apiClient) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return fmt.Errorf("GET %s: %w", path, errAPINotFound)
	default:
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("api: GET %s: %s: %s", path, res.Status, strings.TrimSpace(string(msg)))
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		return fmt.Errorf("api: GET %s: %w", path, err)
	}
	return nil
}

// answeredCalls lists the answered calls on number from the call log,
// following its pages.
func (c apiClient) answeredCalls(ctx context.Context, number string) ([]apiCall, error) {
	var out []apiCall
	before := ""
	for {
		q := url.Values{"limit": {fmt.Sprint(apiPageLimit)}}
		if before != "" {
			q.Set("before", before)
		}
		var page apiCallPage
		if err := c.get(ctx, "/api/calls?"+q.Encode(), &page); err != nil {
			return out, err
		}
		for _, call := range page.Calls {
			if call.Number == number && call.AnsweredAt != nil {
				out = append(out, call)
			}
		}
		if page.Next == "" || page.Next == before {
			return out, nil
		}
		before = page.Next
	}
}

// recordedCall is an answered call and its recording (nil: it has none).
type recordedCall struct {
	call apiCall
	rec  *apiRecording
}

// recordingsOf fetches every call's recording record.
func (c apiClient) recordingsOf(ctx context.Context, calls []apiCall) ([]recordedCall, error) {
	out := make([]recordedCall, 0, len(calls))
	for _, call := range calls {
		var rec apiRecording
		err := c.get(ctx, "/api/calls/"+url.PathEscape(call.ID)+"/recording", &rec)
		switch {
		case errors.Is(err, errAPINotFound):
			out = append(out, recordedCall{call: call})
		case err != nil:
			return out, err
		default:
			out = append(out, recordedCall{call: call, rec: &rec})
		}
	}
	return out, nil
}

// recCheck is what the gateway's records say about a run's recordings.
type recCheck struct {
	expected     int // calls the load generator had answered
	answered     int // answered calls on the number in the call log
	complete     int // finished recordings, both channels, consent heard
	missing      int // answered calls without a recording
	incomplete   int // recordings not finished (or without consent, or mono)
	dropped      uint64
	droppedCalls int     // recordings that lost any packet
	seconds      float64 // audio recorded, complete recordings
	bytes        int64   // their files' sizes
	length       spread  // their lengths, s
	callLength   spread  // their calls' answered-to-ended lengths, s
	// prelude is the median of recording length minus call length: the
	// consent announcement every recording starts with.
	prelude float64
	// deviation is the largest |length - call length - prelude| over the
	// complete recordings, s: how far any recording is from covering
	// exactly its call.
	deviation float64
	problems  []string // a few examples of what went wrong
}

// checkRecordings judges the recordings of the answered calls of a run in
// which expected calls were answered: each must be complete, hold both
// channels and the consent, have lost no packet and last as long as its
// call plus the consent announcement.
func checkRecordings(calls []recordedCall, expected int) recCheck {
	c := recCheck{expected: expected, answered: len(calls), missing: max(0, expected-len(calls))}
	problem := func(format string, args ...any) {
		if len(c.problems) < maxProblems {
			c.problems = append(c.problems, fmt.Sprintf(format, args...))
		}
	}
	if c.missing > 0 {
		problem("%d answered calls are not in the call log", c.missing)
	}
	var lengths, callLengths, extra []float64
	for _, rc := range calls {
		rec := rc.rec
		if rec == nil {
			c.missing++
			problem("call %s has no recording", rc.call.ID)
			continue
		}
		c.dropped += rec.DroppedPackets
		if rec.DroppedPackets > 0 {
			c.droppedCalls++
			problem("call %s: %d packets dropped", rc.call.ID, rec.DroppedPackets)
		}
		if rec.State != "complete" || !rec.ConsentPlayed || rec.Channels != 2 {
			c.incomplete++
			problem("call %s: recording %s, consent played %t, %d channels", rc.call.ID, rec.State, rec.ConsentPlayed, rec.Channels)
			continue
		}
		c.complete++
		c.seconds += rec.DurationSeconds
		c.bytes += rec.Bytes
		lengths = append(lengths, rec.DurationSeconds)
		callLengths = append(callLengths, rc.call.DurationSeconds)
		extra = append(extra, rec.DurationSeconds-rc.call.DurationSeconds)
	}
	c.length, c.callLength = spreadOf(lengths), spreadOf(callLengths)
	c.prelude = spreadOf(extra).p50
	c.deviation = math.NaN()
	if len(extra) > 0 {
		c.deviation = 0
		for _, e := range extra {
			c.deviation = math.Max(c.deviation, math.Abs(e-c.prelude))
		}
	}
	return c
}

// bytesPerMinute is the recordings' disk cost per minute of recording.
func (c recCheck) bytesPerMinute() float64 {
	if c.seconds <= 0 {
		return math.NaN()
	}
	return float64(c.bytes) / c.seconds * 60
}

// fields lists the check's figures as key=value pairs (lengths in seconds).
func (c recCheck) fields() [][2]string {
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	return [][2]string{
		{"rec_expected", fmt.Sprint(c.expected)},
		{"rec_answered_in_log", fmt.Sprint(c.answered)},
		{"rec_complete", fmt.Sprint(c.complete)},
		{"rec_missing", fmt.Sprint(c.missing)},
		{"rec_incomplete", fmt.Sprint(c.incomplete)},
		{"rec_dropped_packets", fmt.Sprint(c.dropped)},
		{"rec_dropped_calls", fmt.Sprint(c.droppedCalls)},
		{"rec_seconds_total", fmt.Sprintf("%.1f", c.seconds)},
		{"rec_bytes_total", fmt.Sprint(c.bytes)},
		{"rec_bytes_per_min_per_call", fmt.Sprintf("%.0f", c.bytesPerMinute())},
		{"rec_length_min_s", f2(c.length.min)},
		{"rec_length_p50_s", f2(c.length.p50)},
		{"rec_length_max_s", f2(c.length.max)},
		{"rec_call_length_min_s", f2(c.callLength.min)},
		{"rec_call_length_max_s", f2(c.callLength.max)},
		{"rec_prelude_s", f2(c.prelude)},
		{"rec_length_deviation_max_s", fmt.Sprintf("%.3f", c.deviation)},
	}
}

// recWindow is what a recorded run measured over the window.
type recWindow struct {
	activeStart, activeEnd float64 // the gateway's recordings gauge
	dropped                float64 // the gateway's recording-drop counter, window delta
	diskPerMin             float64 // growth of data_dir/recordings per minute; NaN when not measured
}

// measureRecording fills the window figures of a recorded run.
func measureRecording(s0, s1 snapshot, secs float64) recWindow {
	w := recWindow{
		activeStart: s0.metrics.get(mRecActive),
		activeEnd:   s1.metrics.get(mRecActive),
		dropped:     s1.metrics.get(mRecDropped) - s0.metrics.get(mRecDropped),
		diskPerMin:  math.NaN(),
	}
	if s0.disk >= 0 && s1.disk >= 0 && secs > 0 {
		w.diskPerMin = float64(s1.disk-s0.disk) / secs * 60
	}
	return w
}

// recordingsDisk is the size of data_dir/recordings for a recorded run
// with -data-dir, and -1 when it is not measured.
func recordingsDisk(o options) (int64, error) {
	if !o.recorded || o.dataDir == "" {
		return -1, nil
	}
	return dirSize(filepath.Join(o.dataDir, recordingsDir))
}

// settleRecordings waits, after the BYEs, until the gateway has finished
// every recording, then checks them through the API. A recorder still
// running after recSettleLimit is reported (its record shows "recording"),
// not waited for.
func (r *result) settleRecordings(ctx context.Context, o options, log *slog.Logger) error {
	final, err := waitMetrics(ctx, o.metricsURL, "every recording to finish", recSettleLimit,
		func(s scrape) bool { return s.get(mRecActive) == 0 })
	if err != nil {
		log.Warn("recordings still running", "active", final.get(mRecActive), "error", err)
	}
	r.recActiveAfter, r.recDroppedTotal = final.get(mRecActive), final.get(mRecDropped)
	api := newAPIClient(o.apiURL, o.apiToken)
	calls, err := api.answeredCalls(ctx, o.number)
	if err != nil {
		return fmt.Errorf("recordings: %w", err)
	}
	recs, err := api.recordingsOf(ctx, calls)
	if err != nil {
		return fmt.Errorf("recordings: %w", err)
	}
	c := checkRecordings(recs, r.established)
	r.recCheck = &c
	for _, p := range c.problems {
		log.Warn("recording problem", "detail", p)
	}
	return nil
}

// recordingFields lists a recorded run's figures: the window's, then the
// check's after the BYEs.
func (r *result) recordingFields() [][2]string {
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	perCall := math.NaN()
	if r.established > 0 {
		perCall = r.rec.diskPerMin / float64(r.established)
	}
	f := [][2]string{
		{"recordings_active_start", f1(r.rec.activeStart)},
		{"recordings_active_end", f1(r.rec.activeEnd)},
		{"rec_dropped_window", f0(r.rec.dropped)},
		{"rec_disk_bytes_per_min", f0(r.rec.diskPerMin)},
		{"rec_disk_bytes_per_min_per_call", f0(perCall)},
		{"rec_expected_bytes_per_min_per_call", fmt.Sprint(recBytesPerSecond * 60)},
		{"recordings_active_after", f1(r.recActiveAfter)},
		{"rec_dropped_metric_total", f0(r.recDroppedTotal)},
	}
	if r.recCheck != nil {
		f = append(f, r.recCheck.fields()...)
	}
	return f
}
