package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// NumberSettings is one of our numbers with its current settings, as JSON
// of the shape of a numbers[] entry of the configuration.
type NumberSettings struct {
	Number   string          `json:"number"`
	Name     string          `json:"name,omitempty"`
	Owner    string          `json:"owner,omitempty"`
	Settings json.RawMessage `json:"settings"`
}

// FieldProblem is one invalid field of an update.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// InvalidSettings is an update refused because of its fields; nothing was
// saved.
type InvalidSettings struct {
	Problems []FieldProblem
}

// Error implements error.
func (e *InvalidSettings) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return strings.Join(parts, "; ")
}

// NumberAdmin reads and changes our numbers' settings at runtime. cmd
// implements it over the configuration, the store and the call engine.
type NumberAdmin interface {
	// Numbers lists every number with its settings.
	Numbers() []NumberSettings
	// UpdateNumber validates new settings for number and, when valid, saves
	// them and applies them to new calls. It returns the saved settings,
	// an *InvalidSettings naming the bad fields, or another error.
	UpdateNumber(number string, body []byte) (NumberSettings, error)
}

// SetNumberAdmin turns on /api/numbers.
func (s *Server) SetNumberAdmin(a NumberAdmin) { s.numbers = a }

// maxSettingsBody bounds a number's settings body.
const maxSettingsBody = 64 << 10

func (s *Server) numberAdmin(w http.ResponseWriter) (NumberAdmin, bool) {
	if s.numbers == nil {
		writeError(w, http.StatusServiceUnavailable, "number settings are not manageable on this server")
		return nil, false
	}
	return s.numbers, true
}

func (s *Server) listNumbers(w http.ResponseWriter, r *http.Request) {
	a, ok := s.numberAdmin(w)
	if !ok {
		return
	}
	list := a.Numbers()
	if list == nil {
		list = []NumberSettings{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"numbers": list})
}

// findNumber returns the number of the {number} path value, or answers 404.
func findNumber(w http.ResponseWriter, r *http.Request, a NumberAdmin) (NumberSettings, bool) {
	want := r.PathValue("number")
	for _, n := range a.Numbers() {
		if n.Number == want {
			return n, true
		}
	}
	writeError(w, http.StatusNotFound, "no number "+want+" on this switchboard (numbers are E.164, like +15550100)")
	return NumberSettings{}, false
}

func (s *Server) getNumber(w http.ResponseWriter, r *http.Request) {
	a, ok := s.numberAdmin(w)
	if !ok {
		return
	}
	if n, ok := findNumber(w, r, a); ok {
		writeJSON(w, http.StatusOK, n)
	}
}

// putNumber replaces a number's settings: the whole numbers[] entry, as
// JSON. Only the owner (or the admin) may change them; every bad field is
// named and nothing is saved unless all are valid.
func (s *Server) putNumber(w http.ResponseWriter, r *http.Request) {
	a, ok := s.numberAdmin(w)
	if !ok {
		return
	}
	n, ok := findNumber(w, r, a)
	if !ok {
		return
	}
	if !s.allowed(r, n.Owner) {
		writeError(w, http.StatusForbidden, "only the owner of "+n.Number+" may change its settings")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSettingsBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "settings are larger than "+sizeText(maxSettingsBody))
		return
	}
	if !json.Valid(body) {
		writeError(w, http.StatusBadRequest, `body must be the number's settings as one JSON object, like {"trunk": "carrier", "ringing": "browser", "ring_timeout": "20s"}`)
		return
	}
	saved, err := a.UpdateNumber(n.Number, body)
	var bad *InvalidSettings
	switch {
	case errors.As(err, &bad):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid settings: " + bad.Error(), "problems": bad.Problems})
		return
	case err != nil:
		s.log.Error("saving number settings", "number", n.Number, "error", err)
		writeError(w, http.StatusInternalServerError, "settings not saved: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, saved)
}
