package main

import (
	"errors"
	"log/slog"
	"slices"
	"testing"

	"switchboard/api"
	"switchboard/signaling"
)

func TestPresenceAdapter(t *testing.T) {
	sig := signaling.New(signaling.Config{Users: []signaling.User{
		{ID: "bob", Name: "Bob Jones", Team: "support", Token: "tok-bob"},
		{ID: "alice", Name: "Alice Smith", Team: "sales", Token: "tok-alice"},
	}}, nil, slog.New(slog.DiscardHandler))
	t.Cleanup(sig.Close)
	var a api.PresenceAPI = presenceAdapter{sig}

	want := []api.UserPresence{
		{ID: "alice", Name: "Alice Smith", Team: "sales", Status: "offline", Reason: "no tab open"},
		{ID: "bob", Name: "Bob Jones", Team: "support", Status: "offline", Reason: "no tab open"},
	}
	if got := a.UserPresences(); !slices.Equal(got, want) {
		t.Errorf("UserPresences() = %+v, want %+v", got, want)
	}

	for _, tc := range []struct {
		user, status string
		sig, api     error
	}{
		{"zed", "available", signaling.ErrUnknownUser, api.ErrUnknownUser},
		{"alice", "busy", signaling.ErrBadStatus, api.ErrBadStatus},
		{"alice", "available", signaling.ErrNoTab, api.ErrNoTab},
	} {
		err := a.SetStatus(tc.user, tc.status)
		if !errors.Is(err, tc.api) || !errors.Is(err, tc.sig) {
			t.Errorf("SetStatus(%q, %q) = %v, want both %v and %v", tc.user, tc.status, err, tc.sig, tc.api)
			continue
		}
		// The message stays the signaling one, naming the user or status.
		if sigErr := sig.SetStatus(tc.user, tc.status); err.Error() != sigErr.Error() {
			t.Errorf("SetStatus(%q, %q) says %q, want %q", tc.user, tc.status, err, sigErr)
		}
	}
}
