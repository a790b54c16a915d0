package signaling

import (
	"errors"
	"slices"
	"testing"
)

// expectPresence fails unless the tab's next message announces status for
// user.
func (c *client) expectPresence(user, status string) {
	c.t.Helper()
	m := c.expect("presence")
	if m.str("user") != user || m.str("status") != status {
		c.t.Fatalf("got %v, want presence %q for %q", m, status, user)
	}
}

func TestSetStatusAnnouncesToEveryTab(t *testing.T) {
	r := newRig(t, nil)
	tab1 := r.signIn(t, "tok-alice")
	tab2 := r.signIn(t, "tok-alice")
	bob := r.signIn(t, "tok-bob")

	if err := r.srv.SetStatus("alice", "available"); err != nil {
		t.Fatalf("SetStatus available: %v", err)
	}
	tab1.expectPresence("alice", "available")
	tab2.expectPresence("alice", "available")
	if ok, why := r.srv.Presence("alice"); !ok || why != "" {
		t.Fatalf("after SetStatus available: %v, %q; want true", ok, why)
	}

	if err := r.srv.SetStatus("alice", "away"); err != nil {
		t.Fatalf("SetStatus away: %v", err)
	}
	tab1.expectPresence("alice", "away")
	tab2.expectPresence("alice", "away")
	if ok, why := r.srv.Presence("alice"); ok || why != "away" {
		t.Fatalf("after SetStatus away: %v, %q; want false, \"away\"", ok, why)
	}

	// Setting the status the user already has changes nothing, so the tabs
	// are not told again; another user's tabs never hear of it.
	if err := r.srv.SetStatus("alice", "away"); err != nil {
		t.Fatalf("SetStatus away again: %v", err)
	}
	tab1.quiet()
	tab2.quiet()
	bob.quiet()

	// A tab's own choice still wins afterwards: both paths set one state.
	tab2.request(map[string]any{"type": "presence", "status": "available"}, "ok")
	tab2.expectPresence("alice", "available")
	tab1.expectPresence("alice", "available")
	if !r.srv.Available("alice") {
		t.Fatal("alice unavailable after her tab chose available")
	}
}

func TestSetStatusErrors(t *testing.T) {
	r := newRig(t, nil)
	for _, tc := range []struct {
		name, user, status string
		want               error
	}{
		{"no tab open", "bob", "available", ErrNoTab},
		{"unknown status", "alice", "busy", ErrBadStatus},
		{"in_call is derived, not chosen", "alice", "in_call", ErrBadStatus},
		{"empty status", "alice", "", ErrBadStatus},
		{"unknown user", "zed", "available", ErrUnknownUser},
		{"empty user", "", "away", ErrUnknownUser},
	} {
		if err := r.srv.SetStatus(tc.user, tc.status); !errors.Is(err, tc.want) {
			t.Errorf("%s: SetStatus(%q, %q) = %v, want %v", tc.name, tc.user, tc.status, err, tc.want)
		}
	}

	// A user whose last tab closed has no status to set.
	tab := r.signIn(t, "tok-alice")
	if err := r.srv.SetStatus("alice", "available"); err != nil {
		t.Fatalf("signed in: %v", err)
	}
	tab.expectPresence("alice", "available")
	_ = tab.conn.Close()
	eventually(t, "alice's tab is gone", func() bool {
		return errors.Is(r.srv.SetStatus("alice", "available"), ErrNoTab)
	})
	if ok, why := r.srv.Presence("alice"); ok || why != "no tab open" {
		t.Fatalf("SetStatus without a tab changed presence: %v, %q", ok, why)
	}

	// Nor does anyone once the server is shutting down.
	r.signIn(t, "tok-bob")
	r.srv.Close()
	if err := r.srv.SetStatus("bob", "available"); !errors.Is(err, ErrNoTab) {
		t.Fatalf("after Close: %v, want ErrNoTab", err)
	}
}

func TestUsersReportsEveryConfiguredUser(t *testing.T) {
	// Configured out of order: Users sorts by ID.
	r := newRig(t, func(c *Config) { c.Users = []User{testUsers[1], testUsers[0]} })
	offline := []UserPresence{
		{ID: "alice", Name: "Alice Smith", Team: "sales", Status: "offline", Reason: "no tab open"},
		{ID: "bob", Name: "Bob Jones", Team: "support", Status: "offline", Reason: "no tab open"},
	}
	if got := r.srv.Users(); !slices.Equal(got, offline) {
		t.Fatalf("nobody signed in: Users() = %+v, want %+v", got, offline)
	}

	alice := r.available(t, "tok-alice")
	r.signIn(t, "tok-bob")
	r.signIn(t, "tok-bob")
	want := []UserPresence{
		{ID: "alice", Name: "Alice Smith", Team: "sales", Status: "available", Tabs: 1, Available: true},
		{ID: "bob", Name: "Bob Jones", Team: "support", Status: "away", Tabs: 2, Reason: "away"},
	}
	if got := r.srv.Users(); !slices.Equal(got, want) {
		t.Fatalf("signed in: Users() = %+v, want %+v", got, want)
	}

	// A call makes its user in_call whatever they chose.
	r.answerRing(t, alice, "call-users-1")
	want[0].Status, want[0].Available, want[0].Reason = "in_call", false, "on a call"
	if got := r.srv.Users(); !slices.Equal(got, want) {
		t.Fatalf("alice in a call: Users() = %+v, want %+v", got, want)
	}
	// Choosing away during the call is kept for afterwards: her presence
	// stays in_call, so her tab hears nothing new.
	if err := r.srv.SetStatus("alice", "away"); err != nil {
		t.Fatalf("SetStatus during a call: %v", err)
	}
	alice.quiet()
	if got := r.srv.Users(); !slices.Equal(got, want) {
		t.Fatalf("away during a call: Users() = %+v, want %+v", got, want)
	}

	r.srv.Close()
	if got := r.srv.Users(); !slices.Equal(got, offline) {
		t.Fatalf("after Close: Users() = %+v, want %+v", got, offline)
	}
}
