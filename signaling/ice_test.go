package signaling

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func TestICEServersShortLivedTURN(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := &Server{cfg: Config{
		STUN: []string{"stun:stun.example.com:3478"},
		TURN: TURN{URLs: []string{"turn:turn.example.com:3478"}, Secret: "s3cret", TTL: time.Hour},
	}}
	got := s.iceServers("alice", now)
	if len(got) != 2 || got[0].URLs[0] != "stun:stun.example.com:3478" || got[0].Username != "" {
		t.Fatalf("ice servers = %+v", got)
	}
	turn := got[1]
	if turn.Username != "1800003600:alice" {
		t.Errorf("username = %q, want expiry one TTL ahead and the user", turn.Username)
	}
	mac := hmac.New(sha1.New, []byte("s3cret"))
	mac.Write([]byte(turn.Username))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); turn.Credential != want {
		t.Errorf("credential = %q, want HMAC-SHA1 of the username %q", turn.Credential, want)
	}
	// Another user, another credential: one user's secret cannot sign in another.
	if other := s.iceServers("bob", now)[1]; other.Credential == turn.Credential || !strings.HasSuffix(other.Username, ":bob") {
		t.Errorf("bob's TURN credentials %+v look like alice's", other)
	}
}

func TestICEServersStaticAndNone(t *testing.T) {
	s := &Server{cfg: Config{TURN: TURN{URLs: []string{"turn:t"}, Username: "u", Credential: "p"}}}
	if got := s.iceServers("alice", time.Now()); len(got) != 1 || got[0].Username != "u" || got[0].Credential != "p" {
		t.Errorf("static TURN = %+v", got)
	}
	if got := (&Server{}).iceServers("alice", time.Now()); len(got) != 0 {
		t.Errorf("no servers configured = %+v", got)
	}
}
