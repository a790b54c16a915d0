package api

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"switchboard/store"
)

// Lifetimes of issued sign-in tokens.
const (
	// DefaultTokenTTL is how long an issued token works when the request
	// names no ttl.
	DefaultTokenTTL = 30 * 24 * time.Hour
	// MaxTokenTTL bounds a requested ttl so a forgotten token does not
	// work forever.
	MaxTokenTTL = 365 * 24 * time.Hour
)

// maxTokenBody bounds the body of POST /api/users/{id}/tokens: it holds at
// most a ttl, so anything bigger is not a client we want to read.
const maxTokenBody = 4 << 10

// TokenIssuer issues and revokes users' sign-in tokens; *store.Store
// implements it.
type TokenIssuer interface {
	IssueToken(user string, ttl time.Duration, now time.Time) (string, store.IssuedToken, error)
	RevokeTokens(user string) (int, error)
}

// tokenIssuing is what the token endpoints need; nil leaves them off.
type tokenIssuing struct {
	adminSum [sha256.Size]byte
	users    func(id string) bool
	issuer   TokenIssuer
	now      func() time.Time
}

// EnableTokenIssuing turns on POST and DELETE /api/users/{id}/tokens for
// callers presenting adminToken as a bearer token. users reports whether a
// user ID exists; issuer keeps the tokens. An empty adminToken (or a nil
// users or issuer) leaves issuing off: the endpoints then answer 403. Call
// it before serving requests.
func (s *Server) EnableTokenIssuing(adminToken string, users func(id string) bool, issuer TokenIssuer) {
	if adminToken == "" || users == nil || issuer == nil {
		s.tokens = nil
		return
	}
	s.tokens = &tokenIssuing{
		adminSum: sha256.Sum256([]byte(adminToken)),
		users:    users,
		issuer:   issuer,
		now:      time.Now,
	}
}

// issuedToken is the JSON reply of POST /api/users/{id}/tokens.
type issuedToken struct {
	Token     string    `json:"token"`
	User      string    `json:"user"`
	ExpiresAt time.Time `json:"expires_at"`
}

// tokenRequest is the optional JSON body of POST /api/users/{id}/tokens.
type tokenRequest struct {
	TTL string `json:"ttl"`
}

// admin wraps a token endpoint with the admin bearer-token check. It is
// separate from authed: a user's own token must not mint tokens for others.
func (s *Server) admin(h func(w http.ResponseWriter, r *http.Request, ti *tokenIssuing)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ti := s.tokens
		if ti == nil {
			writeError(w, http.StatusForbidden, "token issuing is off: set http.admin_token")
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !ti.isAdmin(token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard-admin"`)
			writeError(w, http.StatusUnauthorized, "send Authorization: Bearer <http.admin_token>")
			return
		}
		h(w, r, ti)
	}
}

// isAdmin reports whether token (a bearer token, surrounding spaces
// allowed) is the admin token.
func (ti *tokenIssuing) isAdmin(token string) bool {
	// Comparing digests keeps the comparison constant-time even in the
	// token's length, which ConstantTimeCompare alone would leak.
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], ti.adminSum[:]) == 1
}

func (s *Server) issueToken(w http.ResponseWriter, r *http.Request, ti *tokenIssuing) {
	id := r.PathValue("id")
	if !ti.users(id) {
		writeError(w, http.StatusNotFound, "no user with id "+strconv.Quote(id))
		return
	}
	ttl, status, err := readTokenTTL(w, r)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	token, rec, err := ti.issuer.IssueToken(id, ttl, ti.now())
	if err != nil {
		s.log.Error("issuing a sign-in token", "user", id, "error", err)
		writeError(w, http.StatusInternalServerError, "token store unavailable")
		return
	}
	// Never log the token itself: logs travel further than the database.
	s.log.Info("issued a sign-in token", "user", id, "expires_at", rec.ExpiresAt, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusCreated, issuedToken{Token: token, User: rec.User, ExpiresAt: rec.ExpiresAt})
}

func (s *Server) revokeTokens(w http.ResponseWriter, r *http.Request, ti *tokenIssuing) {
	// No user check: an operator who removed a user from the configuration
	// must still be able to clear the tokens left behind.
	id := r.PathValue("id")
	n, err := ti.issuer.RevokeTokens(id)
	if err != nil {
		s.log.Error("revoking sign-in tokens", "user", id, "error", err)
		writeError(w, http.StatusInternalServerError, "token store unavailable")
		return
	}
	s.log.Info("revoked sign-in tokens", "user", id, "count", n, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

// readTokenTTL reads the optional {"ttl": "720h"} body. It returns the ttl
// (DefaultTokenTTL when absent) or the status and error to answer with.
func readTokenTTL(w http.ResponseWriter, r *http.Request) (time.Duration, int, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTokenBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return 0, http.StatusRequestEntityTooLarge, fmt.Errorf("body is larger than %d bytes", maxTokenBody)
		}
		return 0, http.StatusBadRequest, errors.New("could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return DefaultTokenTTL, 0, nil
	}
	var req tokenRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return 0, http.StatusBadRequest, fmt.Errorf(`body must be JSON like {"ttl": "720h"}: %v`, err)
	}
	if dec.More() {
		return 0, http.StatusBadRequest, errors.New(`body must be one JSON object like {"ttl": "720h"}`)
	}
	if req.TTL == "" {
		return DefaultTokenTTL, 0, nil
	}
	ttl, err := time.ParseDuration(req.TTL)
	switch {
	case err != nil:
		return 0, http.StatusBadRequest, fmt.Errorf("ttl %q is not a duration like \"720h\" or \"90m\"", req.TTL)
	case ttl <= 0:
		return 0, http.StatusBadRequest, fmt.Errorf("ttl %q must be positive", req.TTL)
	case ttl > MaxTokenTTL:
		return 0, http.StatusBadRequest, fmt.Errorf("ttl %q is longer than the maximum of %s (one year)", req.TTL, MaxTokenTTL)
	}
	return ttl, 0, nil
}
