package signaling

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"

	"switchboard/call"
)

// userState is a signed-in user: their open tabs and their presence, which
// is one state for all their tabs. Guarded by Server.mu.
type userState struct {
	user *User
	tabs map[*session]struct{}
	// status is what the user chose: available or away.
	status string
	// legs counts the user's live browser legs; while it is above zero the
	// user is in a call whatever they chose.
	legs int
	// dialing counts outbound calls being set up (media negotiated, not
	// yet placed), for the per-user call limit.
	dialing int
	// announced is the presence last sent to the tabs.
	announced string
}

// presence is what the user's tabs and the ringing logic see.
func (u *userState) presence() string {
	if u.legs > 0 {
		return statusInCall
	}
	return u.status
}

// available reports whether calls may ring the user now.
func (u *userState) available() bool {
	return len(u.tabs) > 0 && u.presence() == statusAvailable
}

// Available reports whether the user has an open tab, has said they are
// available and is not in a call. It implements call.Ringer.
func (s *Server) Available(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	return !s.closed && u != nil && u.available()
}

// Presence reports whether calls may ring the user now and, when not, why
// in a few words for a routing trace: "no tab open", "away" or "on a call".
func (s *Server) Presence(user string) (available bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presenceLocked(s.users[user])
}

// presenceLocked is Presence for u, which may be nil (not signed in).
func (s *Server) presenceLocked(u *userState) (available bool, reason string) {
	switch {
	case s.closed || u == nil || len(u.tabs) == 0:
		return false, "no tab open"
	case u.presence() == statusInCall:
		return false, "on a call"
	case u.presence() != statusAvailable:
		return false, "away"
	}
	return true, ""
}

// signIn adds a tab to its user, welcomes it and shows it the calls
// ringing for the user. It returns false when the tab was refused.
func (s *Server) signIn(c *session, user *User, id json.RawMessage) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.close(websocket.CloseGoingAway, "server shutting down")
		return false
	}
	u := s.users[user.ID]
	if u == nil {
		// A user's first tab starts away: being rung is opted into, so a
		// forgotten tab does not swallow calls. Later tabs inherit the state.
		u = &userState{user: user, tabs: make(map[*session]struct{}), status: statusAway}
		u.announced = u.presence()
		s.users[user.ID] = u
	}
	if len(u.tabs) >= maxTabsPerUser {
		c.log.Warn("sign-in refused: too many tabs", "user", user.ID)
		c.close(websocket.ClosePolicyViolation, "too many tabs")
		return false
	}
	c.user = user
	c.log = c.log.With("user", user.ID)
	u.tabs[c] = struct{}{}
	numbers := s.numbers[user.ID]
	if numbers == nil {
		numbers = []numberInfo{}
	}
	c.send(welcomeMsg{
		Type:       typeWelcome,
		ID:         id,
		User:       userInfo{ID: user.ID, Name: user.Name, Team: user.Team},
		Numbers:    numbers,
		Presence:   u.presence(),
		ICEServers: s.iceServers(user.ID, time.Now()),
	})
	// A tab opened (or reloaded) while a call rings the user shows the
	// call too, and may answer it.
	for _, r := range s.rings {
		if r.req.User == user.ID && (r.state == ringRinging || r.state == ringAnswering) {
			r.tabs[c] = struct{}{}
			c.send(incomingFor(r.req))
		}
	}
	c.log.Info("signed in", "tabs", len(u.tabs), "presence", u.presence())
	return true
}

// setPresence handles "presence": the user's choice, for all their tabs.
func (s *Server) setPresence(c *session, m *inMsg) {
	if !validStatus(m.Status) {
		c.sendError(m.ID, codeBadRequest, `status must be "available" or "away"`)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[c.user.ID]
	if u == nil {
		return // the session is being removed
	}
	c.sendOK(m.ID)
	s.setStatusLocked(u, m.Status)
}

// validStatus reports whether status is one a user may choose.
func validStatus(status string) bool {
	return status == statusAvailable || status == statusAway
}

// setStatusLocked records the user's choice and tells all their tabs, the
// one path for a tab's "presence" message and for SetStatus.
func (s *Server) setStatusLocked(u *userState, status string) {
	u.status = status
	s.announceLocked(u)
}

// announceLocked tells every tab of u its presence when it changed.
func (s *Server) announceLocked(u *userState) {
	p := u.presence()
	if p == u.announced {
		return
	}
	u.announced = p
	msg := presenceMsg{Type: typePresence, User: u.user.ID, Status: p}
	for tab := range u.tabs {
		tab.send(msg)
	}
}

// removeSession forgets a tab whose socket has ended: it no longer counts
// for presence or ringing, and the calls it was in end.
func (s *Server) removeSession(c *session) {
	s.mu.Lock()
	c.removed = true
	delete(s.sessions, c)
	cause := call.CauseFailed
	if s.closed {
		cause = call.CauseShutdown
	}
	var legs []*browserLeg
	if c.user != nil {
		for _, l := range s.legs {
			if l.sess == c {
				legs = append(legs, l)
			}
		}
		for _, r := range s.rings {
			r.dropTab(c)
		}
		if u := s.users[c.user.ID]; u != nil {
			delete(u.tabs, c)
			s.forgetIdleLocked(u)
		}
	}
	s.mu.Unlock()
	// The browser is gone: its legs ended on its side.
	for _, l := range legs {
		l.end(cause, true)
	}
}

// forgetIdleLocked drops a user with no tabs and no calls: the next sign-in
// starts afresh (away).
func (s *Server) forgetIdleLocked(u *userState) {
	if len(u.tabs) == 0 && u.legs == 0 && u.dialing == 0 && s.users[u.user.ID] == u {
		delete(s.users, u.user.ID)
	}
}
