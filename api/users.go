package api

import (
	"errors"
	"net/http"
	"strconv"
)

// Errors a PresenceAPI returns from SetStatus, wrapped or not; the
// endpoints answer each with its own status code.
var (
	// ErrNoTab means the user has no softphone tab open (409): availability
	// belongs to signed-in tabs.
	ErrNoTab = errors.New("no tab open: sign in to the softphone first")
	// ErrBadStatus means the status is not "available" or "away" (400).
	ErrBadStatus = errors.New(`status must be "available" or "away"`)
	// ErrUnknownUser means no user has that id (404).
	ErrUnknownUser = errors.New("no such user")
)

// Statuses a user may choose; "in_call" and "offline" only ever come from
// the server.
const (
	statusAvailable = "available"
	statusAway      = "away"
)

// UserPresence is one user's availability as the users endpoints show it.
type UserPresence struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Team string `json:"team"`
	// Status is "available", "away", "in_call" or "offline" (no tab open).
	Status string `json:"status"`
	// Tabs counts the user's signed-in softphone tabs.
	Tabs int `json:"tabs"`
	// Available reports whether calls may ring the user now; Reason says
	// why not ("no tab open", "away", "on a call").
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
}

// PresenceAPI is the signaling server's view of users' availability, as
// the users endpoints need it. SetStatus returns errors that errors.Is
// matches against ErrUnknownUser, ErrBadStatus and ErrNoTab.
type PresenceAPI interface {
	// UserPresences reports every configured user, sorted by id.
	UserPresences() []UserPresence
	// SetStatus sets a signed-in user's status to "available" or "away"
	// and tells their tabs.
	SetStatus(user, status string) error
}

// SetPresence turns on GET /api/users and PUT /api/users/{id}/availability;
// until it is called they answer 503. Call it before serving requests.
func (s *Server) SetPresence(p PresenceAPI) { s.presence = p }

// maxAvailabilityBody bounds the availability request: one short status.
const maxAvailabilityBody = 1 << 10

// availabilityShape is the body PUT /api/users/{id}/availability takes,
// quoted in its errors.
const availabilityShape = `{"status": "available"}`

// userList is the JSON reply of GET /api/users.
type userList struct {
	Users []UserPresence `json:"users"`
}

// availabilityRequest is the JSON body of PUT /api/users/{id}/availability.
type availabilityRequest struct {
	Status string `json:"status"`
}

// presenceOn returns the presence source, or answers 503 when SetPresence
// was never called.
func (s *Server) presenceOn(w http.ResponseWriter) (PresenceAPI, bool) {
	if s.presence == nil {
		writeError(w, http.StatusServiceUnavailable, "user availability is not configured on this server")
		return nil, false
	}
	return s.presence, true
}

// listUsers answers GET /api/users. Any signed-in user may read it: a team
// sees who is free to take a call.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	p, ok := s.presenceOn(w)
	if !ok {
		return
	}
	users := p.UserPresences()
	if users == nil {
		users = []UserPresence{}
	}
	writeJSON(w, http.StatusOK, userList{Users: users})
}

// putAvailability answers PUT /api/users/{id}/availability. Only the user
// themself or the admin may change it: anyone else could otherwise make a
// colleague ring, or stop their calls.
func (s *Server) putAvailability(w http.ResponseWriter, r *http.Request) {
	p, ok := s.presenceOn(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !s.allowed(r, id) {
		writeError(w, http.StatusForbidden, "only "+strconv.Quote(id)+" or the admin may change "+strconv.Quote(id)+"'s availability")
		return
	}
	var req availabilityRequest
	if err := readJSON(w, r, maxAvailabilityBody, availabilityShape, &req, false); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Status != statusAvailable && req.Status != statusAway {
		writeError(w, http.StatusBadRequest, `status must be "available" or "away", not `+strconv.Quote(req.Status))
		return
	}
	err := p.SetStatus(id, req.Status)
	switch {
	case errors.Is(err, ErrUnknownUser):
		writeError(w, http.StatusNotFound, "no user "+strconv.Quote(id)+" on this switchboard")
		return
	case errors.Is(err, ErrBadStatus):
		writeError(w, http.StatusBadRequest, `status must be "available" or "away", not `+strconv.Quote(req.Status))
		return
	case errors.Is(err, ErrNoTab):
		writeError(w, http.StatusConflict, strconv.Quote(id)+" has no softphone tab open: availability belongs to a signed-in tab, so sign in to the softphone first")
		return
	case err != nil:
		s.log.Error("setting availability", "user", id, "status", req.Status, "error", err)
		writeError(w, http.StatusInternalServerError, "availability could not be changed")
		return
	}
	s.log.Info("availability changed over the API", "user", id, "status", req.Status, "by", requester(r))
	for _, u := range p.UserPresences() {
		if u.ID == id {
			writeJSON(w, http.StatusOK, u)
			return
		}
	}
	// SetStatus knew the user a moment ago; only a presence source that
	// contradicts itself gets here.
	s.log.Error("user missing from the presence list after setting their status", "user", id)
	writeError(w, http.StatusInternalServerError, "availability was changed but could not be read back")
}

// requester names who sent r for the log: a user id, "admin", or
// "anonymous" with authentication off.
func requester(r *http.Request) string {
	p, ok := principalFrom(r.Context())
	switch {
	case !ok:
		return "anonymous"
	case p.admin:
		return "admin"
	}
	return p.user
}
