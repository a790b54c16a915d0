// Package api is the gateway's HTTP side: health, Prometheus metrics and the
// REST API over call records.
package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
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
	log    *slog.Logger
	mux    *http.ServeMux
}

// New builds the handler tree. checks name the parts /healthz reports on.
func New(st *store.Store, checks map[string]Checker, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{store: st, checks: checks, log: log, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", s.health)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/calls", s.authed(s.listCalls))
	s.mux.HandleFunc("GET /api/calls/{id}", s.authed(s.getCall))
	s.mux.HandleFunc("POST /api/users/{id}/tokens", s.admin(s.issueToken))
	s.mux.HandleFunc("DELETE /api/users/{id}/tokens", s.admin(s.revokeTokens))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s
}

// RequireAuth makes /api/ answer only requests carrying a user's token as
// "Authorization: Bearer TOKEN" (the softphone sends it). /healthz and
// /metrics stay open for monitoring; bind http.listen accordingly.
func (s *Server) RequireAuth(a Authenticator) { s.auth = a }

// authed wraps an /api/ handler with the bearer-token check.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.auth != nil {
			token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if _, valid := s.auth(strings.TrimSpace(token)); !ok || !valid {
				w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
				writeError(w, http.StatusUnauthorized, "sign in: send Authorization: Bearer <your token>")
				return
			}
		}
		h(w, r)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The API takes no request bodies yet; cap them anyway so no client can
	// make us read without limit.
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
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
	Calls []store.CallRecord `json:"calls"`
	// Next is the cursor for the next (older) page: pass it as ?before=.
	Next string `json:"next,omitempty"`
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opt := store.ListOptions{Before: q.Get("before")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 500")
			return
		}
		opt.Limit = n
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
	if calls == nil {
		calls = []store.CallRecord{}
	}
	writeJSON(w, http.StatusOK, callList{Calls: calls, Next: next})
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
