package signaling

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors of SetStatus, for callers (the REST API) that answer each one
// differently.
var (
	// ErrNoTab is returned for a user with no open tab: availability is a
	// property of signed-in tabs, and a user's first tab starts away, so a
	// status set before sign-in would be lost anyway.
	ErrNoTab = errors.New("no tab open: sign in to the softphone first")
	// ErrBadStatus is returned for a status other than "available" or "away".
	ErrBadStatus = errors.New(`status must be "available" or "away"`)
	// ErrUnknownUser is returned for a user who is not in Config.Users.
	ErrUnknownUser = errors.New("no such user")
)

// statusOffline is the Status of a user with no open tab. It is never sent
// to tabs: a tab only exists while its user is signed in.
const statusOffline = "offline"

// UserPresence is one configured user's availability as Users reports it.
type UserPresence struct {
	ID, Name, Team string
	// Status is "available", "away", "in_call" or "offline" (no tab open).
	Status string
	// Tabs is how many softphone tabs the user has signed in.
	Tabs int
	// Available and Reason are what Presence reports: whether calls may
	// ring the user now and, when not, why.
	Available bool
	Reason    string
}

// SetStatus sets user's status to "available" or "away" exactly as a
// "presence" message from one of their tabs does: every tab of the user is
// told the new presence. It returns an error wrapping ErrUnknownUser,
// ErrBadStatus or ErrNoTab.
func (s *Server) SetStatus(user, status string) error {
	// byID is written only by New, so it is read without the lock.
	if _, ok := s.byID[user]; !ok {
		return fmt.Errorf("signaling: user %q: %w", user, ErrUnknownUser)
	}
	if !validStatus(status) {
		return fmt.Errorf("signaling: status %q: %w", status, ErrBadStatus)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if s.closed || u == nil || len(u.tabs) == 0 {
		return fmt.Errorf("signaling: user %q: %w", user, ErrNoTab)
	}
	prev := u.status
	s.setStatusLocked(u, status)
	s.log.Info("status set over the API", "user", user, "from", prev, "to", status, "presence", u.presence())
	return nil
}

// Users reports the presence of every configured user, sorted by ID; users
// with no open tab are "offline".
func (s *Server) Users() []UserPresence {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]UserPresence, 0, len(s.byID))
	for _, cu := range s.byID {
		p := UserPresence{ID: cu.ID, Name: cu.Name, Team: cu.Team, Status: statusOffline}
		u := s.users[cu.ID]
		p.Available, p.Reason = s.presenceLocked(u)
		if !s.closed && u != nil && len(u.tabs) > 0 {
			p.Status = u.presence()
			p.Tabs = len(u.tabs)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b UserPresence) int { return strings.Compare(a.ID, b.ID) })
	return out
}
