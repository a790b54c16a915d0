package signaling

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"switchboard/call"
	"switchboard/store"
)

func TestSignIn(t *testing.T) {
	r := newRig(t, nil)
	c := r.connect(t, nil)
	c.sendJSON(map[string]any{"type": "auth", "token": "tok-alice", "id": 1})
	w := c.expect("welcome")
	if id, _ := w["id"].(float64); id != 1 {
		t.Errorf("welcome id = %v, want 1 echoed", w["id"])
	}
	user, _ := w["user"].(map[string]any)
	if user["id"] != "alice" || user["name"] != "Alice Smith" || user["team"] != "sales" {
		t.Errorf("welcome user = %v", user)
	}
	numbers, _ := w["numbers"].([]any)
	if len(numbers) != 2 {
		t.Fatalf("welcome numbers = %v, want Alice's two", numbers)
	}
	for _, n := range numbers {
		if num := n.(map[string]any)["number"]; num != "+15550100" && num != "+15550101" {
			t.Errorf("welcome lists %v, not one of Alice's numbers", num)
		}
	}
	if w.str("presence") != "away" {
		t.Errorf("first tab presence = %q, want away", w.str("presence"))
	}
	c.request(map[string]any{"type": "auth", "token": "tok-alice"}, "error")
	c.quiet()
}

func TestSignInRefused(t *testing.T) {
	tests := []struct {
		name  string
		users []User
		token string
	}{
		{"wrong token", testUsers, "tok-mallory"},
		{"empty token", testUsers, ""},
		{"token prefix", testUsers, "tok-alic"},
		{"user without a token", []User{{ID: "eve"}}, ""},
		{"token shared by two users", []User{{ID: "a", Token: "same"}, {ID: "b", Token: "same"}}, "same"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, func(cfg *Config) { cfg.Users = tt.users })
			c := r.connect(t, nil)
			c.sendJSON(map[string]any{"type": "auth", "token": tt.token})
			c.expectClose(closeInvalidToken, "invalid token")
		})
	}
}

func TestAuthTimeout(t *testing.T) {
	r := newRig(t, func(cfg *Config) { cfg.AuthTimeout = 200 * time.Millisecond })
	c := r.connect(t, nil)
	start := time.Now()
	c.expectClose(closeAuthTimeout, "auth timeout")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v, want about the 200ms auth timeout", d)
	}
}

func TestRequestsBeforeSignIn(t *testing.T) {
	r := newRig(t, nil)
	c := r.connect(t, nil)
	c.sendJSON(map[string]any{"type": "presence", "status": "available", "id": "p"})
	if m := c.expectError("forbidden"); m.str("id") != "p" {
		t.Errorf("error %v does not echo id p", m)
	}
	c.sendRaw(websocket.TextMessage, []byte("{"))
	c.expectError("bad_json")
	c.sendJSON(map[string]any{"type": "auth", "token": "tok-bob"})
	c.expect("welcome")
}

func TestOriginCheck(t *testing.T) {
	tests := []struct {
		name   string
		origin string
		ok     bool
	}{
		{"no origin (not a browser)", "", true},
		{"same host", "SAME", true},
		{"allowed origin", "https://crm.example.com", true},
		{"allowed origin with default port", "https://crm.example.com:443", true},
		{"foreign origin", "https://evil.example.com", false},
		{"allowed host, other scheme", "http://crm.example.com", false},
		{"same host name, other port", "http://127.0.0.1:1", false},
		{"not a URL", "null", false},
	}
	r := newRig(t, func(cfg *Config) { cfg.AllowedOrigins = []string{"https://CRM.example.com/"} })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			switch tt.origin {
			case "":
			case "SAME":
				h.Set("Origin", r.hts.URL)
			default:
				h.Set("Origin", tt.origin)
			}
			conn, resp, err := websocket.DefaultDialer.Dial(r.url, h)
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				conn.Close()
				return
			}
			if err == nil {
				conn.Close()
				t.Fatal("upgrade accepted, want 403")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %v (%v), want HTTP 403", resp, err)
			}
		})
	}
}

func TestMalformedMessagesKeepSession(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn(t, "tok-alice")
	tests := []struct {
		name   string
		frame  int
		data   string
		code   string
		echoID string
	}{
		{"not JSON", websocket.TextMessage, `{"type":`, "bad_json", ""},
		{"not an object", websocket.TextMessage, `["ping"]`, "bad_json", ""},
		{"type not a string", websocket.TextMessage, `{"type":5,"id":"a"}`, "bad_json", "a"},
		{"id an object", websocket.TextMessage, `{"type":"ping","id":{"x":1}}`, "bad_json", ""},
		{"binary frame", websocket.BinaryMessage, `{"type":"ping"}`, "bad_json", ""},
		{"no type", websocket.TextMessage, `{"id":"b"}`, "unknown_type", "b"},
		{"unknown type", websocket.TextMessage, `{"type":"teleport","id":"c"}`, "unknown_type", "c"},
		{"bad presence", websocket.TextMessage, `{"type":"presence","status":"busy","id":"d"}`, "bad_request", "d"},
		{"field of the wrong type", websocket.TextMessage, `{"type":"hold","call_id":"x","held":"yes","id":"e"}`, "bad_json", "e"},
		{"answer without sdp", websocket.TextMessage, `{"type":"answer","call_id":"x","id":"f"}`, "bad_request", "f"},
		{"answer unknown call", websocket.TextMessage, `{"type":"answer","call_id":"x","sdp":"v=0","id":"g"}`, "not_found", "g"},
		{"decline without call id", websocket.TextMessage, `{"type":"decline","id":"i"}`, "bad_request", "i"},
		{"decline unknown call", websocket.TextMessage, `{"type":"decline","call_id":"x","id":"j"}`, "not_found", "j"},
		{"null id", websocket.TextMessage, `{"type":"teleport","id":null}`, "unknown_type", ""},
		{"hangup unknown call", websocket.TextMessage, `{"type":"hangup","call_id":"x","id":"h"}`, "not_found", "h"},
		{"call id too long", websocket.TextMessage, `{"type":"hangup","call_id":"` + strings.Repeat("x", 200) + `"}`, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.sendRaw(tt.frame, []byte(tt.data))
			m := c.expectError(tt.code)
			if m.str("id") != tt.echoID {
				t.Errorf("error %v: id %q, want %q", m, m.str("id"), tt.echoID)
			}
			if m.str("message") == "" {
				t.Errorf("error %v has no message", m)
			}
			c.quiet() // the session is still up
		})
	}
}

func TestOversizedMessageCloses(t *testing.T) {
	r := newRig(t, func(cfg *Config) { cfg.MaxMessage = 1024 })
	c := r.signIn(t, "tok-alice")
	c.sendJSON(map[string]any{"type": "dial", "to": "123", "from": "+15550100", "sdp": strings.Repeat("a", 2000)})
	c.expectClose(websocket.CloseMessageTooBig, "")
}

func TestDefaultMessageLimitIs64KiB(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn(t, "tok-alice")
	// Just under the limit: an answer to an unknown call, handled normally.
	c.sendJSON(map[string]any{"type": "answer", "call_id": "x", "sdp": strings.Repeat("a", 60<<10)})
	c.expectError("not_found")
	c.sendJSON(map[string]any{"type": "answer", "call_id": "x", "sdp": strings.Repeat("a", 65<<10)})
	c.expectClose(websocket.CloseMessageTooBig, "")
}

func TestRateLimit(t *testing.T) {
	r := newRig(t, nil)
	c := r.signIn(t, "tok-alice")
	for range 200 {
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			break // the server may close before the flood is over
		}
	}
	pongs, limited := 0, false
	for {
		m, ok := <-c.msgs
		if !ok {
			break
		}
		switch {
		case m.str("type") == "pong":
			pongs++
		case m.str("type") == "error" && m.str("code") == "rate_limited":
			limited = true
		default:
			t.Fatalf("unexpected %v", m)
		}
	}
	if !limited {
		t.Error("no rate_limited error before the close")
	}
	if pongs < 45 || pongs > 60 {
		t.Errorf("%d pings answered, want about the 50/s limit", pongs)
	}
	ce, ok := c.err.(*websocket.CloseError)
	if !ok || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("socket ended with %v, want close 1008", c.err)
	}
}

func TestServerCloseEndsSessionsAndCalls(t *testing.T) {
	r := newRig(t, nil)
	tab := r.available(t, "tok-alice")
	leg, _ := r.answerRing(t, tab, "c1")
	r.srv.Close()
	tab.expectClose(websocket.CloseGoingAway, "server shutting down")
	awaitClosed(t, leg.Done(), "leg ended")
	if cause, byRemote := leg.EndCause(); cause != call.CauseShutdown || !byRemote {
		t.Errorf("EndCause = %v, %v; want shutdown by the browser side", cause, byRemote)
	}
	if r.srv.Available("alice") {
		t.Error("Available after Close")
	}
	if _, err := r.srv.Ring(context.Background(), ringReq("c2")); !isDialCause(err, call.CauseUnavailable) {
		t.Errorf("Ring after Close = %v, want unavailable", err)
	}
	// New sockets are refused.
	_, resp, err := websocket.DefaultDialer.Dial(r.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v, want HTTP 503", err)
	}
}

func TestNormalizeOrigin(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://CRM.Example.com", "https://crm.example.com", true},
		{"https://crm.example.com:443/", "https://crm.example.com", true},
		{"http://crm.example.com:80", "http://crm.example.com", true},
		{"http://crm.example.com:8080", "http://crm.example.com:8080", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"crm.example.com", "", false},
		{"ftp://crm.example.com", "", false},
		{"https://crm.example.com/path", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeOrigin(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("normalizeOrigin(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSignInWithIssuedToken(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	// Eve has no configured token: an issued one is her only way in.
	users := append([]User{{ID: "eve", Name: "Eve Adams", Team: "ops"}}, testUsers...)
	issue := func(user string, ttl time.Duration, at time.Time) string {
		t.Helper()
		tok, _, err := st.IssueToken(user, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	eve := issue("eve", time.Hour, now)
	expired := issue("alice", time.Minute, now.Add(-time.Hour))
	removed := issue("mallory", time.Hour, now) // not a configured user
	revoked := issue("bob", time.Hour, now)
	if n, err := st.RevokeTokens("bob"); err != nil || n != 1 {
		t.Fatalf("RevokeTokens = %d, %v", n, err)
	}
	r := newRig(t, func(cfg *Config) {
		cfg.Users = users
		cfg.IssuedToken = func(token string) (string, bool) { return st.LookupToken(token, time.Now()) }
	})

	c := r.connect(t, nil)
	c.sendJSON(map[string]any{"type": "auth", "token": eve})
	w := c.expect("welcome")
	if user, _ := w["user"].(map[string]any); user["id"] != "eve" || user["name"] != "Eve Adams" || user["team"] != "ops" {
		t.Errorf("welcome user = %v, want eve", w["user"])
	}
	// Configured tokens keep working beside issued ones.
	r.signIn(t, "tok-alice")

	for _, tc := range []struct{ name, token string }{
		{"expired", expired},
		{"user not configured", removed},
		{"revoked", revoked},
		{"unknown", "not-issued"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := r.connect(t, nil)
			c.sendJSON(map[string]any{"type": "auth", "token": tc.token})
			c.expectClose(closeInvalidToken, "invalid token")
		})
	}
}
