package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"switchboard/store"
)

func newTestAPI(t *testing.T, checks map[string]Checker) (*Server, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(st, checks, nil), st
}

func get(t *testing.T, h http.Handler, path string, wantStatus int, into any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != wantStatus {
		t.Fatalf("GET %s = %d, want %d: %s", path, rec.Code, wantStatus, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); into != nil && !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("GET %s Content-Type = %q", path, ct)
	}
	if into != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("GET %s: bad JSON %v: %s", path, err, rec.Body)
		}
	}
}

func TestListCallsPagesNewestFirst(t *testing.T) {
	srv, st := newTestAPI(t, nil)
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 5 {
		rec := &store.CallRecord{Direction: store.DirectionInbound, Number: "+15550100", Caller: "+15551234",
			StartedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := st.CreateCall(rec); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	var page1, page2, page3 callList
	get(t, srv, "/api/calls?limit=2", http.StatusOK, &page1)
	if len(page1.Calls) != 2 || page1.Calls[0].ID != ids[4] || page1.Calls[1].ID != ids[3] || page1.Next == "" {
		t.Fatalf("page 1 = %+v", page1)
	}
	get(t, srv, "/api/calls?limit=2&before="+page1.Next, http.StatusOK, &page2)
	if len(page2.Calls) != 2 || page2.Calls[0].ID != ids[2] || page2.Calls[1].ID != ids[1] {
		t.Fatalf("page 2 = %+v", page2)
	}
	get(t, srv, "/api/calls?limit=2&before="+page2.Next, http.StatusOK, &page3)
	if len(page3.Calls) != 1 || page3.Calls[0].ID != ids[0] || page3.Next != "" {
		t.Fatalf("page 3 = %+v", page3)
	}
	var one store.CallRecord
	get(t, srv, "/api/calls/"+ids[2], http.StatusOK, &one)
	if one.ID != ids[2] || one.Number != "+15550100" {
		t.Fatalf("GET one = %+v", one)
	}
}

func TestCallsErrors(t *testing.T) {
	srv, _ := newTestAPI(t, nil)
	var empty callList
	get(t, srv, "/api/calls", http.StatusOK, &empty)
	if empty.Calls == nil || len(empty.Calls) != 0 {
		t.Fatalf("empty log must be [] not null: %+v", empty)
	}
	for _, tc := range []struct {
		path   string
		status int
		msg    string
	}{
		{"/api/calls?limit=0", 400, "limit"},
		{"/api/calls?limit=501", 400, "limit"},
		{"/api/calls?limit=ten", 400, "limit"},
		{"/api/calls?before=%00%01", 400, "before"},
		{"/api/calls/18e9fdf74e6da1d45f49643a", 404, "no call"},
		{"/api/calls/..%2f..%2fetc", 404, "no call"},
		{"/api/nothing", 404, "no such endpoint"},
	} {
		var body map[string]string
		get(t, srv, tc.path, tc.status, &body)
		if !strings.Contains(body["error"], tc.msg) {
			t.Errorf("GET %s error = %q, want it to mention %q", tc.path, body["error"], tc.msg)
		}
	}
}

func TestHealthz(t *testing.T) {
	var down error
	srv, _ := newTestAPI(t, map[string]Checker{"sip": func() error { return down }})
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	get(t, srv, "/healthz", http.StatusOK, &body)
	if body.Status != "ok" || body.Checks["sip"] != "ok" {
		t.Fatalf("healthy body = %+v", body)
	}
	down = errors.New("SIP listeners are down")
	get(t, srv, "/healthz", http.StatusServiceUnavailable, &body)
	if body.Status != "unavailable" || body.Checks["sip"] != "SIP listeners are down" {
		t.Fatalf("unhealthy body = %+v", body)
	}
}

func TestMetricsServed(t *testing.T) {
	srv, _ := newTestAPI(t, nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "switchboard_calls_total{outcome=\"answered\"}") {
		t.Fatalf("/metrics = %d:\n%.500s", rec.Code, rec.Body)
	}
}

func TestAPIRequiresToken(t *testing.T) {
	srv, _ := newTestAPI(t, nil)
	srv.RequireAuth(func(token string) (string, bool) { return "alice", token == "good" })
	for _, tc := range []struct {
		header string
		status int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer bad", http.StatusUnauthorized},
		{"Basic good", http.StatusUnauthorized},
		{"Bearer good", http.StatusOK},
	} {
		req := httptest.NewRequest(http.MethodGet, "/api/calls", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("Authorization %q: status %d, want %d (%s)", tc.header, rec.Code, tc.status, rec.Body)
		}
		if tc.status == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: 401 without WWW-Authenticate", tc.header)
		}
	}
	// Health and metrics stay open for monitoring.
	get(t, srv, "/healthz", http.StatusOK, nil)
}
