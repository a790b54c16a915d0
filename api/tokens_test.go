package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"switchboard/store"
)

const testAdminToken = "admin-0123456789abcdef"

var tokenNow = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// tokenAPI is an API with token issuing on, backed by a real store, whose
// clock is fixed at tokenNow.
func tokenAPI(t *testing.T) (*Server, *store.Store) {
	t.Helper()
	srv, st := newTestAPI(t, nil)
	srv.EnableTokenIssuing(testAdminToken, func(id string) bool { return id == "alice" || id == "bob" }, st)
	srv.tokens.now = func() time.Time { return tokenNow }
	return srv, st
}

// do sends one request and returns the recorder.
func do(h http.Handler, method, path, auth, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestIssueTokenStatuses(t *testing.T) {
	srv, _ := tokenAPI(t)
	admin := "Bearer " + testAdminToken
	tests := []struct {
		name     string
		auth     string
		path     string
		body     string
		status   int
		errorHas string
	}{
		{"no authorization", "", "/api/users/alice/tokens", "", http.StatusUnauthorized, "admin_token"},
		{"wrong admin token", "Bearer admin-0123456789abcdeX", "/api/users/alice/tokens", "", http.StatusUnauthorized, "admin_token"},
		{"admin token prefix", "Bearer admin-0123", "/api/users/alice/tokens", "", http.StatusUnauthorized, "admin_token"},
		{"not a bearer", "Basic " + testAdminToken, "/api/users/alice/tokens", "", http.StatusUnauthorized, "admin_token"},
		{"unknown user", admin, "/api/users/mallory/tokens", "", http.StatusNotFound, `"mallory"`},
		{"ttl not a duration", admin, "/api/users/alice/tokens", `{"ttl":"30 days"}`, http.StatusBadRequest, "ttl"},
		{"ttl negative", admin, "/api/users/alice/tokens", `{"ttl":"-1h"}`, http.StatusBadRequest, "ttl"},
		{"ttl zero", admin, "/api/users/alice/tokens", `{"ttl":"0s"}`, http.StatusBadRequest, "ttl"},
		{"ttl over a year", admin, "/api/users/alice/tokens", `{"ttl":"8761h"}`, http.StatusBadRequest, "ttl"},
		{"ttl a number", admin, "/api/users/alice/tokens", `{"ttl":3600}`, http.StatusBadRequest, "ttl"},
		{"unknown field", admin, "/api/users/alice/tokens", `{"tll":"1h"}`, http.StatusBadRequest, "ttl"},
		{"not JSON", admin, "/api/users/alice/tokens", `ttl=1h`, http.StatusBadRequest, "ttl"},
		{"two objects", admin, "/api/users/alice/tokens", `{"ttl":"1h"} {"ttl":"2h"}`, http.StatusBadRequest, "ttl"},
		{"body too large", admin, "/api/users/alice/tokens", `{"ttl":"1h"}` + strings.Repeat(" ", 5000), http.StatusRequestEntityTooLarge, "bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(srv, http.MethodPost, tt.path, tt.auth, tt.body)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, tt.errorHas) {
				t.Errorf("error = %q (%v), want it to mention %q", e.Error, err, tt.errorHas)
			}
			if tt.status == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestIssueTokenCreatesWorkingToken(t *testing.T) {
	srv, st := tokenAPI(t)
	tests := []struct {
		name string
		body string
		ttl  time.Duration
	}{
		{"no body", "", DefaultTokenTTL},
		{"empty object", "{}", DefaultTokenTTL},
		{"ttl", `{"ttl":"720h"}`, 720 * time.Hour},
		{"one year", `{"ttl":"8760h"}`, MaxTokenTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(srv, http.MethodPost, "/api/users/alice/tokens", "Bearer "+testAdminToken, tt.body)
			if rec.Code != http.StatusCreated {
				t.Fatalf("status = %d, want 201: %s", rec.Code, rec.Body)
			}
			var got struct {
				Token     string    `json:"token"`
				User      string    `json:"user"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Token == "" || got.User != "alice" || !got.ExpiresAt.Equal(tokenNow.Add(tt.ttl)) {
				t.Errorf("reply = %+v, want alice's token expiring at %s", got, tokenNow.Add(tt.ttl))
			}
			if u, ok := st.LookupToken(got.Token, tokenNow); !ok || u != "alice" {
				t.Errorf("issued token looks up as %q, %v", u, ok)
			}
			if _, ok := st.LookupToken(got.Token, tokenNow.Add(tt.ttl)); ok {
				t.Error("issued token still works at its expiry")
			}
		})
	}
}

func TestRevokeTokensEndpoint(t *testing.T) {
	srv, st := tokenAPI(t)
	var tokens []string
	for range 2 {
		rec := do(srv, http.MethodPost, "/api/users/bob/tokens", "Bearer "+testAdminToken, "")
		var got struct{ Token string }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusCreated {
			t.Fatalf("issue = %d %s", rec.Code, rec.Body)
		}
		tokens = append(tokens, got.Token)
	}
	if rec := do(srv, http.MethodDelete, "/api/users/bob/tokens", "Bearer wrong", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("DELETE with a wrong admin token = %d, want 401", rec.Code)
	}
	rec := do(srv, http.MethodDelete, "/api/users/bob/tokens", "Bearer "+testAdminToken, "")
	var got struct {
		Revoked *int `json:"revoked"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK || got.Revoked == nil || *got.Revoked != 2 {
		t.Fatalf("DELETE = %d %s, want 200 {\"revoked\": 2}", rec.Code, rec.Body)
	}
	for _, tok := range tokens {
		if _, ok := st.LookupToken(tok, tokenNow); ok {
			t.Error("a revoked token still looks up")
		}
	}
	// A user no longer in the configuration may still have leftovers cleared.
	rec = do(srv, http.MethodDelete, "/api/users/gone/tokens", "Bearer "+testAdminToken, "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"revoked": 0`) {
		t.Errorf("DELETE for an unknown user = %d %s, want 200 revoked 0", rec.Code, rec.Body)
	}
}

func TestTokenIssuingOff(t *testing.T) {
	srv, st := newTestAPI(t, nil)
	for _, enable := range []func(){
		func() {}, // never enabled
		func() { srv.EnableTokenIssuing("", func(string) bool { return true }, st) },
	} {
		enable()
		for _, method := range []string{http.MethodPost, http.MethodDelete} {
			rec := do(srv, method, "/api/users/alice/tokens", "Bearer anything", "")
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "token issuing is off: set http.admin_token") {
				t.Errorf("%s with issuing off = %d %s, want 403 naming http.admin_token", method, rec.Code, rec.Body)
			}
		}
	}
}

// failingIssuer is a TokenIssuer whose store is down.
type failingIssuer struct{}

func (failingIssuer) IssueToken(string, time.Duration, time.Time) (string, store.IssuedToken, error) {
	return "", store.IssuedToken{}, store.ErrClosed
}

func (failingIssuer) RevokeTokens(string) (int, error) { return 0, errors.New("disk on fire") }

func TestTokenStoreFailureIs500(t *testing.T) {
	srv, _ := newTestAPI(t, nil)
	srv.EnableTokenIssuing(testAdminToken, func(string) bool { return true }, failingIssuer{})
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		rec := do(srv, method, "/api/users/alice/tokens", "Bearer "+testAdminToken, "")
		if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "fire") {
			t.Errorf("%s with a failing store = %d %s, want 500 without internals", method, rec.Code, rec.Body)
		}
	}
}

func TestTokenEndpointsIgnoreUserAuth(t *testing.T) {
	// A user's own token opens /api/calls but must not mint tokens.
	srv, _ := tokenAPI(t)
	srv.RequireAuth(func(token string) (string, bool) { return "alice", token == "tok-alice" })
	if rec := do(srv, http.MethodPost, "/api/users/alice/tokens", "Bearer tok-alice", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("POST with a user token = %d, want 401", rec.Code)
	}
	if rec := do(srv, http.MethodGet, "/api/calls", "Bearer tok-alice", ""); rec.Code != http.StatusOK {
		t.Errorf("GET /api/calls with a user token = %d, want 200", rec.Code)
	}
}
