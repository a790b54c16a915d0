package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"switchboard/ivr"
)

// fakePresence is a PresenceAPI over a fixed list of users. A user listed
// in noTab has no tab open; fail, when set, is what SetStatus returns.
type fakePresence struct {
	mu    sync.Mutex
	users []UserPresence
	noTab map[string]bool
	fail  error
	calls []string // "user status" per SetStatus call
}

func newFakePresence() *fakePresence {
	return &fakePresence{
		users: []UserPresence{
			{ID: "alice", Name: "Alice Smith", Team: "sales", Status: "away", Tabs: 1, Reason: "away"},
			{ID: "bob", Name: "Bob Jones", Team: "support", Status: "offline", Reason: "no tab open"},
		},
		noTab: map[string]bool{"bob": true},
	}
}

func (f *fakePresence) UserPresences() []UserPresence {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.users)
}

func (f *fakePresence) SetStatus(user, status string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, user+" "+status)
	if f.fail != nil {
		return f.fail
	}
	i := slices.IndexFunc(f.users, func(u UserPresence) bool { return u.ID == user })
	switch {
	case i < 0:
		return fmt.Errorf("presence: %q: %w", user, ErrUnknownUser)
	case f.noTab[user]:
		return fmt.Errorf("presence: %q: %w", user, ErrNoTab)
	}
	u := &f.users[i]
	u.Status, u.Available, u.Reason = status, status == "available", ""
	if !u.Available {
		u.Reason = "away"
	}
	return nil
}

// setCalls returns the SetStatus calls so far.
func (f *fakePresence) setCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func TestUsersEndpointsOffUntilSetPresence(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/api/users"},
		{http.MethodPut, "/api/users/alice/availability"},
	} {
		rec := send(va.srv, tc.method, tc.path, aliceAuth, strings.NewReader(`{"status":"available"}`))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(errorOf(t, rec), "not configured") {
			t.Errorf("%s %s without SetPresence = %d %s, want 503 not configured", tc.method, tc.path, rec.Code, rec.Body)
		}
	}
}

func TestListUsers(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	fp := newFakePresence()
	va.srv.SetPresence(fp)
	// Any signed-in user reads everyone's availability, and so does the admin.
	for _, auth := range []string{aliceAuth, bobAuth, adminAuth} {
		rec := send(va.srv, http.MethodGet, "/api/users", auth, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET /api/users as %q = %d %s", auth, rec.Code, rec.Body)
		}
		var got userList
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Users, fp.users) {
			t.Errorf("as %q: users = %+v, want %+v", auth, got.Users, fp.users)
		}
	}
	// The wire names are snake_case, and reason is left out when there is none.
	fp.users[0] = UserPresence{ID: "alice", Name: "Alice Smith", Team: "sales", Status: "available", Tabs: 2, Available: true}
	rec := send(va.srv, http.MethodGet, "/api/users", aliceAuth, nil)
	var raw struct {
		Users []map[string]any `json:"users"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil || len(raw.Users) != 2 {
		t.Fatalf("GET /api/users = %s, %v", rec.Body, err)
	}
	want := map[string]any{"id": "alice", "name": "Alice Smith", "team": "sales", "status": "available", "tabs": 2.0, "available": true}
	if fmt.Sprint(raw.Users[0]) != fmt.Sprint(want) {
		t.Errorf("alice on the wire = %v, want %v", raw.Users[0], want)
	}

	if rec := send(va.srv, http.MethodGet, "/api/users", "", nil); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token = %d, want 401", rec.Code)
	}

	// No users at all is an empty list, not null.
	fp.users = nil
	rec = send(va.srv, http.MethodGet, "/api/users", aliceAuth, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"users": []`) {
		t.Errorf("no users = %d %s, want an empty list", rec.Code, rec.Body)
	}
}

func TestPutAvailability(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	fp := newFakePresence()
	va.srv.SetPresence(fp)

	rec := send(va.srv, http.MethodPut, "/api/users/alice/availability", aliceAuth, strings.NewReader(`{"status": "available"}`))
	if rec.Code != http.StatusOK {
		t.Fatalf("alice sets herself available = %d %s", rec.Code, rec.Body)
	}
	var got UserPresence
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if want := (UserPresence{ID: "alice", Name: "Alice Smith", Team: "sales", Status: "available", Tabs: 1, Available: true}); got != want {
		t.Errorf("reply = %+v, want %+v", got, want)
	}

	rec = send(va.srv, http.MethodPut, "/api/users/alice/availability", adminAuth, strings.NewReader(`{"status": "away"}`))
	if rec.Code != http.StatusOK {
		t.Fatalf("the admin sets alice away = %d %s", rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Status != "away" || got.Available || got.Reason != "away" {
		t.Errorf("reply = %+v, %v; want alice away", got, err)
	}
	if calls := fp.setCalls(); !slices.Equal(calls, []string{"alice available", "alice away"}) {
		t.Errorf("SetStatus calls = %q", calls)
	}

	for _, tc := range []struct {
		name, path, auth, body string
		code                   int
		msg                    string
	}{
		{"another user", "/api/users/bob/availability", aliceAuth, `{"status": "available"}`, 403, `only "bob" or the admin`},
		{"unknown user for a user", "/api/users/zed/availability", aliceAuth, `{"status": "available"}`, 403, "only"},
		{"no token", "/api/users/alice/availability", "", `{"status": "available"}`, 401, "sign in"},
		{"bad status", "/api/users/alice/availability", aliceAuth, `{"status": "busy"}`, 400, `status must be "available" or "away"`},
		{"in_call is not chosen", "/api/users/alice/availability", aliceAuth, `{"status": "in_call"}`, 400, "status"},
		{"no status", "/api/users/alice/availability", aliceAuth, `{}`, 400, "status"},
		{"empty body", "/api/users/alice/availability", aliceAuth, ``, 400, `{"status": "available"}`},
		{"not JSON", "/api/users/alice/availability", aliceAuth, `available`, 400, `{"status": "available"}`},
		{"unknown field", "/api/users/alice/availability", aliceAuth, `{"state": "away"}`, 400, "unknown field"},
		{"two objects", "/api/users/alice/availability", aliceAuth, `{"status": "away"} {}`, 400, "one object"},
		{"too big", "/api/users/alice/availability", aliceAuth, `{"status": "` + strings.Repeat("a", 2000) + `"}`, 400, "larger than 1 KiB"},
		{"unknown user", "/api/users/zed/availability", adminAuth, `{"status": "available"}`, 404, `no user "zed"`},
		{"no tab open", "/api/users/bob/availability", adminAuth, `{"status": "available"}`, 409, "sign in to the softphone"},
		{"own user, no tab open", "/api/users/bob/availability", bobAuth, `{"status": "away"}`, 409, "sign in to the softphone"},
	} {
		before := len(fp.setCalls())
		rec := send(va.srv, http.MethodPut, tc.path, tc.auth, strings.NewReader(tc.body))
		if rec.Code != tc.code || !strings.Contains(errorOf(t, rec), tc.msg) {
			t.Errorf("%s: %d %s, want %d mentioning %q", tc.name, rec.Code, rec.Body, tc.code, tc.msg)
		}
		// Refused requests never reach the signaling server.
		if called := len(fp.setCalls()) > before; called != (tc.code == 404 || tc.code == 409) {
			t.Errorf("%s: SetStatus called = %v", tc.name, called)
		}
	}
}

func TestPutAvailabilityMapsImplementerErrors(t *testing.T) {
	va := newVoiceAPI(t, ivr.Limits{}, nil)
	fp := newFakePresence()
	va.srv.SetPresence(fp)
	for _, tc := range []struct {
		err  error
		code int
		msg  string
	}{
		{fmt.Errorf("signaling: %w", ErrBadStatus), 400, "status"},
		{ErrUnknownUser, 404, "no user"},
		{fmt.Errorf("wrapped twice: %w", fmt.Errorf("signaling: %w", ErrNoTab)), 409, "sign in to the softphone"},
		{errors.New("signaling: disk on fire"), 500, "could not be changed"},
	} {
		fp.mu.Lock()
		fp.fail = tc.err
		fp.mu.Unlock()
		rec := send(va.srv, http.MethodPut, "/api/users/alice/availability", aliceAuth, strings.NewReader(`{"status": "away"}`))
		if rec.Code != tc.code || !strings.Contains(errorOf(t, rec), tc.msg) {
			t.Errorf("SetStatus error %v: %d %s, want %d mentioning %q", tc.err, rec.Code, rec.Body, tc.code, tc.msg)
		}
		// The internal error's text stays in the log.
		if strings.Contains(rec.Body.String(), "disk on fire") {
			t.Errorf("reply leaks the internal error: %s", rec.Body)
		}
	}
}

func TestPutAvailabilityWithAuthOff(t *testing.T) {
	srv, _ := newTestAPI(t, nil)
	fp := newFakePresence()
	srv.SetPresence(fp)
	rec := send(srv, http.MethodPut, "/api/users/alice/availability", "", strings.NewReader(`{"status": "available"}`))
	if rec.Code != http.StatusOK {
		t.Fatalf("auth off = %d %s, want 200", rec.Code, rec.Body)
	}
	if calls := fp.setCalls(); !slices.Equal(calls, []string{"alice available"}) {
		t.Errorf("SetStatus calls = %q", calls)
	}
}
