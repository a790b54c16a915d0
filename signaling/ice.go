package signaling

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"
)

// ICEServer is a STUN or TURN server as RTCPeerConnection takes it.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// TURN is a TURN relay the browsers may use.
type TURN struct {
	URLs       []string
	Username   string // static credentials, when Secret is empty
	Credential string
	// Secret, when set, makes short-lived credentials per user instead of
	// handing out a static password (the TURN REST API convention that
	// coturn's use-auth-secret implements): username "expiry:user",
	// credential base64(HMAC-SHA1(secret, username)).
	Secret string
	TTL    time.Duration
}

// iceServers is what a signed-in user's browser is told to use.
func (s *Server) iceServers(user string, now time.Time) []ICEServer {
	out := make([]ICEServer, 0, 2)
	if len(s.cfg.STUN) > 0 {
		out = append(out, ICEServer{URLs: s.cfg.STUN})
	}
	t := s.cfg.TURN
	if len(t.URLs) == 0 {
		return out
	}
	if t.Secret == "" {
		return append(out, ICEServer{URLs: t.URLs, Username: t.Username, Credential: t.Credential})
	}
	username, credential := turnCredentials(t.Secret, user, now.Add(t.TTL))
	return append(out, ICEServer{URLs: t.URLs, Username: username, Credential: credential})
}

// turnCredentials derives time-limited TURN credentials from a shared secret.
func turnCredentials(secret, user string, expires time.Time) (username, credential string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
