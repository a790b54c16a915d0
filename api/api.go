// Package api is the gateway's HTTP side: health, Prometheus metrics and the
// REST API over call records, users' availability, voicemail, greetings and
// text-to-speech previews.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"switchboard/metrics"
	"switchboard/store"
)

// Checker reports whether a part the gateway needs is up.
type Checker func() error

// Authenticator maps a bearer token to the user it belongs to.
type Authenticator func(token string) (user string, ok bool)

// Server serves the HTTP API.
type Server struct {
	store  *store.Store
	checks map[string]Checker
	auth   Authenticator
	tokens *tokenIssuing // nil while token issuing is off
	voice  *Voice        // nil until SetVoice: the voice endpoints answer 503
	log    *slog.Logger
	mux    *http.ServeMux

	// greetingMu serialises greeting uploads and deletions, so two writers
	// of one number's greeting cannot interleave file and record updates.
	greetingMu sync.Mutex
	simulate   Simulator   // nil until SetSimulator
	numbers    NumberAdmin // nil until SetNumberAdmin
	presence   PresenceAPI // nil until SetPresence: the users endpoints answer 503
	links      *playLinks  // signs the recordings' playback links (see playlink.go)
}

// maxBody caps request bodies on every route but the greeting upload, which
// has its own cap (see uploadCap).
const maxBody = 1 << 20

// New builds the handler tree. checks name the parts /healthz reports on.
func New(st *store.Store, checks map[string]Checker, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{store: st, checks: checks, log: log, mux: http.NewServeMux(), links: newPlayLinks()}
	s.mux.HandleFunc("GET /healthz", s.health)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/calls", s.authed(s.listCalls))
	s.mux.HandleFunc("GET /api/calls/{id}", s.authed(s.getCall))
	s.mux.HandleFunc("POST /api/users/{id}/tokens", s.admin(s.issueToken))
	s.mux.HandleFunc("DELETE /api/users/{id}/tokens", s.admin(s.revokeTokens))
	s.mux.HandleFunc("GET /api/users", s.userOrAdmin(s.listUsers))
	s.mux.HandleFunc("PUT /api/users/{id}/availability", s.userOrAdmin(s.putAvailability))
	s.mux.HandleFunc(greetingUploadPattern, s.userOrAdmin(s.putGreeting))
	s.mux.HandleFunc("GET /api/numbers/{number}/greetings/{kind}", s.userOrAdmin(s.getGreeting))
	s.mux.HandleFunc("DELETE /api/numbers/{number}/greetings/{kind}", s.userOrAdmin(s.deleteGreeting))
	s.mux.HandleFunc("POST /api/tts/preview", s.userOrAdmin(s.ttsPreview))
	s.mux.HandleFunc("GET /api/numbers/{number}/voicemails", s.userOrAdmin(s.listVoicemails))
	s.mux.HandleFunc("GET /api/voicemails/{id}", s.userOrAdmin(s.getVoicemail))
	s.mux.HandleFunc("GET /api/voicemails/{id}/audio", s.userOrAdmin(s.voicemailAudio))
	s.mux.HandleFunc("PATCH /api/voicemails/{id}", s.userOrAdmin(s.patchVoicemail))
	s.mux.HandleFunc("DELETE /api/voicemails/{id}", s.userOrAdmin(s.deleteVoicemail))
	s.mux.HandleFunc("POST /api/numbers/{number}/simulate", s.userOrAdmin(s.simulateCall))
	s.mux.HandleFunc("GET /api/calls/{id}/recording", s.userOrAdmin(s.getRecording))
	s.mux.HandleFunc("GET /api/calls/{id}/recording/audio", s.recordingAudioRoute())
	s.mux.HandleFunc("DELETE /api/calls/{id}/recording", s.userOrAdmin(s.deleteRecording))
	s.mux.HandleFunc("GET /api/numbers", s.userOrAdmin(s.listNumbers))
	s.mux.HandleFunc("GET /api/numbers/{number}", s.userOrAdmin(s.getNumber))
	s.mux.HandleFunc("PUT /api/numbers/{number}", s.userOrAdmin(s.putNumber))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s
}

// RequireAuth makes /api/ answer only requests carrying a user's token as
// "Authorization: Bearer TOKEN" (the softphone sends it). /healthz and
// /metrics stay open for monitoring; bind http.listen accordingly.
func (s *Server) RequireAuth(a Authenticator) { s.auth = a }

// principal is who sent a request, as authed or userOrAdmin found out.
type principal struct {
	user  string // the signed-in user's id; "" for the admin
	admin bool   // the request carried http.admin_token
}

// principalKey is the request-context key of the principal.
type principalKey struct{}

// principalFrom returns the principal stored in ctx; ok is false when the
// request was not authenticated (auth is off).
func principalFrom(ctx context.Context) (p principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(principal)
	return p, ok
}

// withPrincipal returns r carrying p in its context.
func withPrincipal(r *http.Request, p principal) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
}

// authed wraps an /api/ handler with the bearer-token check. The handler
// finds the signed-in user with principalFrom.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.auth != nil {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			user, valid := s.auth(strings.TrimSpace(token))
			if !ok || !valid {
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
				writeError(w, http.StatusUnauthorized, "sign in: send Authorization: Bearer <your token>")
				return
			}
			r = withPrincipal(r, principal{user: user})
		}
		h(w, r)
	}
}

// userOrAdmin is authed that also admits the admin token, for endpoints an
// operator manages on the users' behalf (greetings, voicemail).
func (s *Server) userOrAdmin(h http.HandlerFunc) http.HandlerFunc {
	user := s.authed(h)
	return func(w http.ResponseWriter, r *http.Request) {
		if s.auth != nil && s.tokens != nil {
			if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.tokens.isAdmin(token) {
				h(w, withPrincipal(r, principal{admin: true}))
				return
			}
		}
		user(w, r)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Cap every body so no client can make us read without limit. Only a
	// greeting upload may be bigger than the small JSON bodies the rest of
	// the API takes; a MaxBytesReader cannot be widened once wrapped, so
	// the route is picked out here.
	limit := int64(maxBody)
	if _, pattern := s.mux.Handler(r); pattern == greetingUploadPattern {
		limit = s.uploadCap()
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	s.mux.ServeHTTP(w, r)
}

// NewHTTPServer wraps h with timeouts suited to an API on the open network.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	status := http.StatusOK
	parts := make(map[string]string, len(s.checks))
	for name, check := range s.checks {
		if err := check(); err != nil {
			parts[name] = err.Error()
			status = http.StatusServiceUnavailable
		} else {
			parts[name] = "ok"
		}
	}
	overall := "ok"
	if status != http.StatusOK {
		overall = "unavailable"
	}
	writeJSON(w, status, map[string]any{"status": overall, "checks": parts})
}

// callList is the JSON shape of GET /api/calls.
type callList struct {
	Calls []listedCall `json:"calls"`
	// Next is the cursor for the next (older) page: pass it as ?before=.
	Next string `json:"next,omitempty"`
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	opt, ok := pageOptions(w, r)
	if !ok {
		return
	}
	calls, next, err := s.store.ListCalls(opt)
	switch {
	case errors.Is(err, store.ErrInvalid):
		writeError(w, http.StatusBadRequest, "before is not a call id")
		return
	case err != nil:
		s.log.Error("listing calls", "error", err)
		writeError(w, http.StatusInternalServerError, "call log unavailable")
		return
	}
	// withRecordings makes a non-nil slice, so an empty log is [] not null.
	writeJSON(w, http.StatusOK, callList{Calls: s.withRecordings(r, calls), Next: next})
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := s.store.GetCall(id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "no call with id "+strconv.Quote(id))
		return
	case err != nil:
		s.log.Error("reading call", "id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "call log unavailable")
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// pageOptions reads the ?limit= and ?before= of a list endpoint, answering
// 400 for a bad limit.
func pageOptions(w http.ResponseWriter, r *http.Request) (store.ListOptions, bool) {
	q := r.URL.Query()
	opt := store.ListOptions{Before: q.Get("before")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 500")
			return opt, false
		}
		opt.Limit = n
	}
	return opt, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
