package signaling

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"switchboard/call"
)

// Defaults for the zero fields of Config.
const (
	DefaultPingInterval = 5 * time.Second
	DefaultDeadAfter    = 10 * time.Second
	DefaultAuthTimeout  = 10 * time.Second
	DefaultMaxMessage   = 64 << 10
)

// Limits that protect the gateway from a hostile or broken client.
const (
	// maxMessagesPerSecond is each socket's request rate limit.
	maxMessagesPerSecond = 50
	// maxTabsPerUser bounds the sockets one token can hold open.
	maxTabsPerUser = 16
	// maxCallsPerUser bounds one user's browser legs, including outbound
	// calls being set up, so a leaked token cannot flood the trunks.
	maxCallsPerUser = 4
	// sendQueueLen is how many messages may wait for a slow socket before
	// it is closed rather than let to hold memory or block the engine.
	sendQueueLen = 256
	// writeTimeout bounds one frame write to a socket.
	writeTimeout = 10 * time.Second
	// closeGrace is how long the close handshake may take (RFC 6455 §7.1.1)
	// before the TCP connection is dropped anyway.
	closeGrace = time.Second
	// answerTimeout bounds turning a browser's offer into an answer.
	answerTimeout = 20 * time.Second
	// maxPendingICE bounds the candidates held while an answer is made.
	maxPendingICE = 64
)

// ErrInvalidRing is returned by Ring for a request without a call id or
// user, or for a call id that is already ringing or connected.
var ErrInvalidRing = errors.New("signaling: invalid ring request")

// User is someone who may sign in: Token is their secret.
type User struct {
	ID, Name, Team, Token string
}

// Number is one of our phone numbers (E.164) and the user it belongs to;
// a user may present their numbers as caller ID.
type Number struct {
	Number, Name, Owner string
}

// Config configures a Server. Zero durations and sizes take the defaults.
type Config struct {
	Users   []User
	Numbers []Number
	// AllowedOrigins are browser origins ("https://crm.example.com") that may
	// open a socket besides pages served from the same host.
	AllowedOrigins []string
	PingInterval   time.Duration // how often the server pings each socket
	DeadAfter      time.Duration // silence after which a socket is dead
	AuthTimeout    time.Duration // how long a new socket has to sign in
	MaxMessage     int64         // largest message in bytes
	// STUN and TURN are handed to browsers in the welcome message.
	STUN []string
	TURN TURN
	// IssuedToken, when set, maps a token issued through the API (see
	// store.LookupToken) to the ID of the user it signs in. It is consulted
	// only when no user's configured token matches, and the ID must be one
	// of Users. It must be safe for concurrent use.
	IssuedToken func(token string) (userID string, ok bool)
}

// Placer places calls from a browser leg; *call.Engine implements it.
type Placer interface {
	PlaceOutbound(leg call.Leg, req call.OutboundRequest) (string, error)
}

// Server is the WebSocket endpoint browsers connect to, the registry of
// their sessions and presence, and the call.Ringer of the call engine.
type Server struct {
	cfg      Config
	media    MediaAnswerer
	log      *slog.Logger
	upgrader websocket.Upgrader
	tokens   map[[sha256.Size]byte]*User
	byID     map[string]*User        // every user with an ID, for issued tokens
	numbers  map[string][]numberInfo // by owner
	origins  map[string]bool

	// ctx ends at Close; it bounds media negotiations in flight.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts session goroutines so Close can wait for them.
	wg sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	placer   Placer
	sessions map[*session]struct{}
	users    map[string]*userState // signed-in users by id
	rings    map[string]*ring      // ringing calls by call id
	legs     map[string]*browserLeg
}

// New returns a Server for cfg. Answers come from answerer (a
// *media.WebRTC through AnswerWith). Users whose token is empty cannot sign
// in; a token shared by two users is refused for both and logged, because
// either could be signed in as the other.
func New(cfg Config, answerer MediaAnswerer, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = DefaultDeadAfter
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = DefaultAuthTimeout
	}
	if cfg.MaxMessage <= 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	s := &Server{
		cfg:      cfg,
		media:    answerer,
		log:      log.With("component", "signaling"),
		tokens:   make(map[[sha256.Size]byte]*User),
		byID:     make(map[string]*User),
		numbers:  make(map[string][]numberInfo),
		origins:  make(map[string]bool),
		sessions: make(map[*session]struct{}),
		users:    make(map[string]*userState),
		rings:    make(map[string]*ring),
		legs:     make(map[string]*browserLeg),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ambiguous := make(map[[sha256.Size]byte]bool)
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if u.ID != "" {
			s.byID[u.ID] = u
		}
		if u.Token == "" || u.ID == "" {
			continue
		}
		// Tokens are looked up by hash so the lookup's timing says nothing
		// about how close a guess was.
		h := sha256.Sum256([]byte(u.Token))
		if prev, dup := s.tokens[h]; dup || ambiguous[h] {
			if dup {
				s.log.Error("two users share a token; neither can sign in with it", "user", u.ID, "other", prev.ID)
			}
			delete(s.tokens, h)
			ambiguous[h] = true
			continue
		}
		s.tokens[h] = u
	}
	for _, n := range cfg.Numbers {
		if n.Owner != "" {
			s.numbers[n.Owner] = append(s.numbers[n.Owner], numberInfo{Number: n.Number, Name: n.Name})
		}
	}
	for _, o := range cfg.AllowedOrigins {
		if norm, ok := normalizeOrigin(o); ok {
			s.origins[norm] = true
		} else {
			s.log.Warn("ignoring an allowed origin that is not scheme://host[:port]", "origin", o)
		}
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      s.checkOrigin,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			s.log.Info("websocket upgrade refused", "remote", r.RemoteAddr, "origin", r.Header.Get("Origin"), "status", status, "err", reason)
			http.Error(w, http.StatusText(status), status)
		},
	}
	return s
}

// SetPlacer sets who places the calls users dial from the browser. Until it
// is set, "dial" is refused as unavailable.
func (s *Server) SetPlacer(p Placer) {
	s.mu.Lock()
	s.placer = p
	s.mu.Unlock()
}

func (s *Server) getPlacer() Placer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.placer
}

// ServeHTTP upgrades the request to a WebSocket and runs the session until
// the socket closes. Mount it at /ws.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	// Upgrade replies itself on failure: 403 for a foreign origin (checkOrigin),
	// 400 for a request that is not a WebSocket handshake.
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := newSession(s, conn, r.RemoteAddr)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(closeGrace))
		_ = conn.Close()
		return
	}
	s.sessions[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	c.run()
}

// Close closes every socket (their calls end with cause shutdown), stops
// accepting new ones and waits for the sessions to finish.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for c := range s.sessions {
		sessions = append(sessions, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range sessions {
		c.close(websocket.CloseGoingAway, "server shutting down")
	}
	s.wg.Wait()
}

// lookupToken returns the user a token signs in, or nil: a configured
// token first, then one issued through the API. An issued token of a user
// no longer in the configuration signs no one in.
func (s *Server) lookupToken(token string) *User {
	if token == "" {
		return nil
	}
	if u := s.tokens[sha256.Sum256([]byte(token))]; u != nil {
		return u
	}
	if s.cfg.IssuedToken == nil {
		return nil
	}
	id, ok := s.cfg.IssuedToken(token)
	if !ok {
		return nil
	}
	return s.byID[id]
}

// checkOrigin lets a browser page open a socket only from the gateway's own
// origin or an allowed one, so another site cannot use a signed-in agent's
// browser against us (cross-site WebSocket hijacking). Clients that send no
// Origin are not browsers and must present a token anyway.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	norm, ok := normalizeOrigin(origin)
	return ok && s.origins[norm]
}

// normalizeOrigin returns origin as scheme://host[:port] in lower case,
// without a default port (RFC 6454 §6.1 serialises origins that way).
func normalizeOrigin(origin string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSpace(origin), "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return "", false
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}
