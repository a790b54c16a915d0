package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// callRecord mirrors the CallRecord JSON of the REST API. It is declared
// here rather than imported from store so that a change of the wire format
// breaks these tests, as it would break every API client.
type callRecord struct {
	ID              string     `json:"id"`
	Direction       string     `json:"direction"`
	Number          string     `json:"number"`
	Caller          string     `json:"caller"`
	Callee          string     `json:"callee"`
	Trunk           string     `json:"trunk"`
	Legs            []callLeg  `json:"legs"`
	StartedAt       time.Time  `json:"started_at"`
	AnsweredAt      *time.Time `json:"answered_at"`
	EndedAt         *time.Time `json:"ended_at"`
	DurationSeconds float64    `json:"duration_seconds"`
	Outcome         string     `json:"outcome"`
	HangupCause     string     `json:"hangup_cause"`
	HangupSide      string     `json:"hangup_side"`
	SIPCode         int        `json:"sip_code"`
}

// callLeg mirrors one entry of CallRecord.legs.
type callLeg struct {
	Role   string `json:"role"`
	Kind   string `json:"kind"`
	Peer   string `json:"peer"`
	CallID string `json:"call_id"`
	Remote string `json:"remote"`
	Codec  string `json:"codec"`
}

func (r callRecord) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// leg returns the record's leg with the given role.
func (r callRecord) leg(role string) (callLeg, bool) {
	for _, l := range r.Legs {
		if l.Role == role {
			return l, true
		}
	}
	return callLeg{}, false
}

// getJSON fetches path from the gateway's HTTP API into v and returns the status.
func (g *gateway) getJSON(t *testing.T, path string, v any) int {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequest(http.MethodGet, g.httpBase+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.apiToken != "" {
		req.Header.Set("Authorization", "Bearer "+g.apiToken)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %d, body is not JSON (%v): %s", path, res.StatusCode, err, body)
	}
	return res.StatusCode
}

// calls returns the newest call records, newest first.
func (g *gateway) calls(t *testing.T) []callRecord {
	t.Helper()
	var page struct {
		Calls []callRecord `json:"calls"`
		Next  string       `json:"next"`
	}
	if code := g.getJSON(t, "/api/calls?limit=50", &page); code != http.StatusOK {
		t.Fatalf("GET /api/calls: status %d", code)
	}
	return page.Calls
}

// call fetches one record by id.
func (g *gateway) call(t *testing.T, id string) callRecord {
	t.Helper()
	var rec callRecord
	if code := g.getJSON(t, "/api/calls/"+url.PathEscape(id), &rec); code != http.StatusOK {
		t.Fatalf("GET /api/calls/%s: status %d", id, code)
	}
	return rec
}

// waitEndedCall waits until the call log holds exactly one call and it has
// ended, then returns it as served by GET /api/calls/{id}. Every test starts
// its own gateway with an empty database, so one call is all there may be.
func (g *gateway) waitEndedCall(t *testing.T, within time.Duration) callRecord {
	t.Helper()
	var last []callRecord
	err := waitFor(context.Background(), within, func() bool {
		last = g.calls(t)
		return len(last) >= 1 && last[0].Outcome != ""
	})
	if err != nil {
		t.Fatalf("no ended call record within %s; call log: %v", within, last)
	}
	if len(last) != 1 {
		t.Fatalf("call log holds %d calls, want 1: %v", len(last), last)
	}
	rec := g.call(t, last[0].ID)
	t.Logf("call record: %s", rec)
	return rec
}

// checkRecord compares the fields of a record that every test pins down.
func checkRecord(t *testing.T, rec callRecord, want callRecord) {
	t.Helper()
	check := func(field, got, want string) {
		t.Helper()
		if want != "" && got != want {
			t.Errorf("call record %s = %q, want %q", field, got, want)
		}
	}
	check("direction", rec.Direction, want.Direction)
	check("number", rec.Number, want.Number)
	check("caller", rec.Caller, want.Caller)
	check("callee", rec.Callee, want.Callee)
	check("trunk", rec.Trunk, want.Trunk)
	check("outcome", rec.Outcome, want.Outcome)
	check("hangup_cause", rec.HangupCause, want.HangupCause)
	check("hangup_side", rec.HangupSide, want.HangupSide)
	if want.SIPCode != 0 && rec.SIPCode != want.SIPCode {
		t.Errorf("call record sip_code = %d, want %d", rec.SIPCode, want.SIPCode)
	}
	if rec.EndedAt == nil {
		t.Errorf("call record has no ended_at")
	} else if rec.EndedAt.Before(rec.StartedAt) {
		t.Errorf("call record ended_at %s before started_at %s", rec.EndedAt, rec.StartedAt)
	}
	if want.Outcome == "answered" {
		if rec.AnsweredAt == nil {
			t.Errorf("answered call has no answered_at")
		}
	} else if rec.AnsweredAt != nil || rec.DurationSeconds != 0 {
		t.Errorf("unanswered call has answered_at %v, duration %v", rec.AnsweredAt, rec.DurationSeconds)
	}
	if _, ok := rec.leg("caller"); !ok {
		t.Errorf("call record has no caller leg: %v", rec.Legs)
	}
}

// wantRecord is the part of every inbound record to +15550100 that is fixed,
// for a call from callerNumber.
func wantRecord(outcome, cause, side string, code int) callRecord {
	return callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Callee: forwardNumber, Trunk: "carrier",
		Outcome: outcome, HangupCause: cause, HangupSide: side, SIPCode: code,
	}
}

// metrics scrapes /metrics.
func (g *gateway) metrics(t *testing.T) metricSet {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get(g.httpBase + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d, %v", res.StatusCode, err)
	}
	m, err := parseMetrics(string(body))
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return m
}

// waitMetric waits until the sample name{labels} satisfies ok and returns it.
func (g *gateway) waitMetric(t *testing.T, within time.Duration, name string, labels map[string]string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	err := waitFor(context.Background(), within, func() bool {
		v = g.metrics(t).get(name, labels)
		return ok(v)
	})
	if err != nil {
		t.Fatalf("metric %s%s = %v, not the value expected within %s", name, fmt.Sprint(labels), v, within)
	}
	return v
}
