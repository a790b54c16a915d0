package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/ivr"
	"switchboard/routing"
)

func TestSimulate(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	path := "/api/numbers/%2B15550100/simulate"
	if rec := send(va.srv, http.MethodPost, path, aliceAuth, strings.NewReader(`{}`)); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before SetSimulator: %d, want 503", rec.Code)
	}
	var gotAt time.Time
	var gotCaller string
	va.srv.SetSimulator(func(number string, at time.Time, caller string) (routing.Plan, bool) {
		gotAt, gotCaller = at, caller
		return routing.Plan{
			AfterHours: true,
			Steps:      []routing.Step{{Kind: routing.StepVoicemail, Greeting: routing.GreetingAfterHours, Why: "after hours"}},
			Trace:      []string{"Tue 18:05 Europe/Warsaw is outside Mon-Fri 09:00-17:00 -> after-hours action voicemail"},
		}, number == aliceNumber
	})
	rec := send(va.srv, http.MethodPost, path, aliceAuth, strings.NewReader(`{"time": "2026-11-24T18:05:00+01:00", "caller": "+15557654321"}`))
	if rec.Code != http.StatusOK {
		t.Fatalf("simulate = %d %s", rec.Code, rec.Body)
	}
	var p planJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	want, _ := time.Parse(time.RFC3339, "2026-11-24T18:05:00+01:00")
	if !gotAt.Equal(want) || gotCaller != "+15557654321" {
		t.Errorf("simulator got %v %q", gotAt, gotCaller)
	}
	if !p.AfterHours || len(p.Steps) != 1 || p.Steps[0].Kind != "voicemail" || p.Steps[0].Greeting != "after_hours" ||
		len(p.Trace) != 1 || !strings.Contains(p.Trace[0], "outside Mon-Fri 09:00-17:00") || p.Number != aliceNumber {
		t.Errorf("plan = %+v", p)
	}
	for _, tc := range []struct {
		name, path, auth, body string
		code                   int
		msg                    string
	}{
		{"bad time", path, aliceAuth, `{"time": "tomorrow"}`, 400, "RFC 3339"},
		{"unknown field", path, aliceAuth, `{"when": "x"}`, 400, "unknown field"},
		{"not the owner", path, bobAuth, `{}`, 403, "only the owner"},
		{"not our number", "/api/numbers/%2B19995550000/simulate", aliceAuth, `{}`, 404, "no number"},
		{"no token", path, "", `{}`, 401, "sign in"},
	} {
		rec := send(va.srv, http.MethodPost, tc.path, tc.auth, strings.NewReader(tc.body))
		if rec.Code != tc.code || !strings.Contains(errorOf(t, rec), tc.msg) {
			t.Errorf("%s: %d %s, want %d mentioning %q", tc.name, rec.Code, rec.Body, tc.code, tc.msg)
		}
	}
	// An empty body simulates a withheld caller now.
	before := time.Now()
	if rec := send(va.srv, http.MethodPost, path, aliceAuth, nil); rec.Code != http.StatusOK || gotAt.Before(before) || gotCaller != "" {
		t.Errorf("empty body: %d, at %v, caller %q", rec.Code, gotAt, gotCaller)
	}
}
