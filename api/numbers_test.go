package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"switchboard/ivr"
)

// fakeNumbers is a NumberAdmin holding settings in memory; "bad" in a body
// makes it refuse the update naming the field ringing.
type fakeNumbers struct {
	mu   sync.Mutex
	nums []NumberSettings
}

func (f *fakeNumbers) Numbers() []NumberSettings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]NumberSettings(nil), f.nums...)
}

func (f *fakeNumbers) UpdateNumber(number string, body []byte) (NumberSettings, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Contains(string(body), "bad") {
		return NumberSettings{}, &InvalidSettings{Problems: []FieldProblem{{Field: "ringing", Message: `"bad" must be forward, browser or both`}}}
	}
	for i := range f.nums {
		if f.nums[i].Number == number {
			f.nums[i].Settings = body
			return f.nums[i], nil
		}
	}
	return NumberSettings{}, nil
}

func TestNumbersEndpoints(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	if rec := send(va.srv, http.MethodGet, "/api/numbers", aliceAuth, nil); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("before SetNumberAdmin: %d", rec.Code)
	}
	f := &fakeNumbers{nums: []NumberSettings{
		{Number: aliceNumber, Owner: "alice", Settings: json.RawMessage(`{"ringing":"browser"}`)},
		{Number: bobNumber, Owner: "bob", Settings: json.RawMessage(`{"ringing":"forward"}`)},
	}}
	va.srv.SetNumberAdmin(f)

	rec := send(va.srv, http.MethodGet, "/api/numbers", bobAuth, nil)
	var list struct{ Numbers []NumberSettings }
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Numbers) != 2 {
		t.Fatalf("list = %d %s", rec.Code, rec.Body)
	}
	if rec := send(va.srv, http.MethodGet, "/api/numbers/%2B15550100", bobAuth, nil); rec.Code != http.StatusOK ||
		!strings.Contains(rec.Body.String(), `"ringing": "browser"`) {
		t.Fatalf("get = %d %s", rec.Code, rec.Body)
	}
	path := "/api/numbers/%2B15550100"
	rec = send(va.srv, http.MethodPut, path, aliceAuth, strings.NewReader(`{"ringing":"both"}`))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"ringing": "both"`) {
		t.Fatalf("put = %d %s", rec.Code, rec.Body)
	}
	rec = send(va.srv, http.MethodPut, path, aliceAuth, strings.NewReader(`{"ringing":"bad"}`))
	var bad struct {
		Error    string
		Problems []FieldProblem
	}
	if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &bad) != nil ||
		len(bad.Problems) != 1 || bad.Problems[0].Field != "ringing" || !strings.Contains(bad.Error, "ringing") {
		t.Fatalf("invalid put = %d %s", rec.Code, rec.Body)
	}
	for _, tc := range []struct {
		name, path, auth, body string
		code                   int
		msg                    string
	}{
		{"other owner", path, bobAuth, `{}`, 403, "only the owner"},
		{"admin may", "/api/numbers/%2B15550111", adminAuth, `{"ringing":"browser"}`, 200, ""},
		{"not JSON", path, aliceAuth, `ringing: both`, 400, "JSON object"},
		{"too large", path, aliceAuth, `{"x":"` + strings.Repeat("a", maxSettingsBody) + `"}`, 413, "larger than"},
		{"unknown number", "/api/numbers/%2B19995550000", adminAuth, `{}`, 404, "no number"},
		{"no token", path, "", `{}`, 401, "sign in"},
	} {
		rec := send(va.srv, http.MethodPut, tc.path, tc.auth, strings.NewReader(tc.body))
		if rec.Code != tc.code || (tc.msg != "" && !strings.Contains(errorOf(t, rec), tc.msg)) {
			t.Errorf("%s: %d %s, want %d mentioning %q", tc.name, rec.Code, rec.Body, tc.code, tc.msg)
		}
	}
	if got := f.Numbers()[0].Settings; string(got) != `{"ringing":"both"}` {
		t.Errorf("refused updates changed the settings: %s", got)
	}
}
