package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// valid is a small correct config; cases below break one thing each, so the
// error they expect is the only one.
const valid = `trunks:
  - name: carrier
    inbound:
      allow: [10.0.0.1, 192.0.2.0/24]
    outbound:
      proxy: sip:127.0.0.1:5070
users:
  - id: alice
numbers:
  - number: "+15550100"
    trunk: carrier
    forward_to: "+15550199"
`

func TestValidFixtureParses(t *testing.T) {
	if _, err := Parse([]byte(valid), "test.yaml"); err != nil {
		t.Fatalf("the base fixture must be valid: %v", err)
	}
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		line int
		path string // empty for document-level problems
		msg  string // substring of the message after "path: "
	}{
		{"unknown top-level key", "sip:\n  lisen: x\n", 2, "sip.lisen", "unknown key"},
		{"webrtc public ip not an IP", "webrtc:\n  public_ips: [example.com]\n", 2, "webrtc.public_ips[0]", "not an IP"},
		{"webrtc ports reversed", "webrtc:\n  ports: \"5000-4000\"\n", 2, "webrtc.ports", "not a UDP port range"},
		{"stun url scheme", "webrtc:\n  stun: [\"http://x\"]\n", 2, "webrtc.stun[0]", "not a stun"},
		{"turn without credentials", "webrtc:\n  turn:\n    urls: [\"turn:t.example:3478\"]\n", 3, "webrtc.turn", "needs a secret"},
		{"turn ttl too short", "webrtc:\n  turn:\n    ttl: 5s\n", 3, "webrtc.turn.ttl", "out of range"},
		{"unknown webrtc key", "webrtc:\n  stunn: []\n", 2, "webrtc.stunn", "unknown key"},
		{"tls cert without key", "http:\n  tls_cert: /etc/hostname\n", 2, "http.tls_cert", "go together"},
		{"tls key unreadable", "http:\n  tls_cert: /etc/hostname\n  tls_key: /nonexistent/key.pem\n", 3, "http.tls_key", "cannot be read"},
		{"bad allowed origin", "http:\n  allowed_origins: [\"phone.example.com\"]\n", 2, "http.allowed_origins[0]", "not an origin"},
		{"admin token too short", "http:\n  admin_token: \"short-secret\"\n", 2, "http.admin_token", "at least 16"},
		{"unknown root key", "data_dri: x\n", 1, "data_dri", "unknown key"},
		{"unknown nested key", strings.Replace(valid, "      proxy:", "      pasword: x\n      proxy:", 1), 6, "trunks[0].outbound.pasword", "unknown key"},
		{"bad CIDR", strings.Replace(valid, "allow: [10.0.0.1, 192.0.2.0/24]", "allow:\n        - 10.0.0.1\n        - 192.0.2.0/33", 1), 6, "trunks[0].inbound.allow[1]", `"192.0.2.0/33" is not a CIDR`},
		{"bad IP", strings.Replace(valid, "10.0.0.1,", "10.0.0.300,", 1), 4, "trunks[0].inbound.allow[0]", `"10.0.0.300" is not an IP address or CIDR`},
		{"allow not a list", strings.Replace(valid, "allow: [10.0.0.1, 192.0.2.0/24]", "allow: 10.0.0.1", 1), 4, "trunks[0].inbound.allow", "expected a list"},
		{"odd rtp start", "rtp:\n  ports: 20001-20999\n", 2, "rtp.ports", "odd port"},
		{"rtp ports not a range", "rtp:\n  ports: abc\n", 2, "rtp.ports", `"abc" is not a port range`},
		{"rtp ports reversed", "rtp:\n  ports: 20998-20000\n", 2, "rtp.ports", "fewer than two"},
		{"rtp one pair", "rtp:\n  ports: 20000-20001\n", 2, "rtp.ports", "fewer than two"},
		{"rtp low port", "rtp:\n  ports: 1000-2000\n", 2, "rtp.ports", "below 1024"},
		{"rtp high port", "rtp:\n  ports: 60000-70000\n", 2, "rtp.ports", "above 65535"},
		{"rtp address not IP", "rtp:\n  address: localhost\n", 2, "rtp.address", "not an IP address"},
		{"rtp timeout zero", "rtp:\n  timeout: 0s\n", 2, "rtp.timeout", "at least 1s"},
		{"duplicate number", valid + "  - number: \"+1 555 0100\"\n    trunk: carrier\n    ringing: browser\n", 13, "numbers[1].number", "duplicate number +15550100 (also numbers[0])"},
		{"unknown trunk", strings.Replace(valid, "trunk: carrier", "trunk: nope", 1), 11, "numbers[0].trunk", `no trunk is named "nope"`},
		{"missing trunk", strings.Replace(valid, "    trunk: carrier\n", "", 1), 10, "numbers[0].trunk", "is required"},
		{"unknown owner", valid + "    owner: bob\n", 13, "numbers[0].owner", `no user has id "bob"`},
		{"forward_to not a number", strings.Replace(valid, `forward_to: "+15550199"`, "forward_to: abc", 1), 12, "numbers[0].forward_to", `"abc" is not a phone number`},
		{"forward_to missing", strings.Replace(valid, "    forward_to: \"+15550199\"\n", "", 1), 10, "numbers[0].forward_to", "is required because ringing is forward"},
		{"forward loop", strings.Replace(valid, `forward_to: "+15550199"`, `forward_to: "5550100"`, 1), 12, "numbers[0].forward_to", "+15550100 is our own number (numbers[0])"},
		{"number not a number", strings.Replace(valid, `number: "+15550100"`, "number: call-me", 1), 10, "numbers[0].number", `"call-me" is not a phone number`},
		{"number missing", "numbers:\n  - trunk: x\n    ringing: browser\n", 2, "numbers[0].number", "is required"},
		{"ringing unknown", valid + "    ringing: loud\n", 13, "numbers[0].ringing", `"loud" must be forward, browser or both`},
		{"ring_timeout not a duration", valid + "    ring_timeout: fast\n", 13, "numbers[0].ring_timeout", `"fast" is not a duration`},
		{"ring_timeout bare number", valid + "    ring_timeout: 25\n", 13, "numbers[0].ring_timeout", `"25" is not a duration`},
		{"ring_timeout too long", valid + "    ring_timeout: 301s\n", 13, "numbers[0].ring_timeout", "out of range"},
		{"voicemail max_length too short", valid + "    voicemail: { enabled: true, max_length: 1s }\n", 13, "numbers[0].voicemail.max_length", "out of range (5s to 600s)"},
		{"voicemail silence_timeout", valid + "    voicemail:\n      silence_timeout: 0s\n", 14, "numbers[0].voicemail.silence_timeout", "out of range (1s to 60s)"},
		{"voicemail unknown key", valid + "    voicemail:\n      greeting: hi\n", 14, "numbers[0].voicemail.greeting", "unknown key"},
		{"greeting audio escapes data_dir", valid + "    voicemail:\n      after_hours: { audio: ../etc/passwd }\n", 14, "numbers[0].voicemail.after_hours.audio", "must stay inside data_dir"},
		{"greeting audio absolute", valid + "    voicemail:\n      in_hours: { audio: /tmp/x.mp3 }\n", 14, "numbers[0].voicemail.in_hours.audio", "relative to data_dir"},
		{"greeting empty", valid + "    voicemail:\n      in_hours: { language: de }\n", 14, "numbers[0].voicemail.in_hours", "needs tts or audio"},
		{"consent bad language", valid + "    consent: { text: hi, language: \"--help\" }\n", 13, "numbers[0].consent.language", "is not a language name"},
		{"consent text in the greeting key", valid + "    consent: { tts: hi }\n", 13, "numbers[0].consent.tts", "unknown key"},
		{"greetings max_length", valid + "greetings: { max_length: 0s }\n", 13, "greetings.max_length", "out of range (1s to 600s)"},
		{"retention negative", valid + "recording: { retention_days: -1 }\n", 13, "recording.retention_days", "out of range"},
		{"stream url http", valid + "recording: { stream_url: \"http://127.0.0.1:9000/live\" }\n", 13, "recording.stream_url", "want ws or wss"},
		{"stream url relative", valid + "recording: { stream_url: \"/live\" }\n", 13, "recording.stream_url", "not absolute"},
		{"stream url no host", valid + "recording: { stream_url: \"wss:///live\" }\n", 13, "recording.stream_url", "no host"},
		{"record not a bool", valid + "    record: sometimes\n", 13, "numbers[0].record", "is not true or false"},
		{"list where a map is expected", "sip:\n  - listen\n", 2, "sip", "expected a mapping (key: value lines), got a list"},
		{"scalar where a map is expected", "http: 8080\n", 1, "http", `expected a mapping (key: value lines), got "8080"`},
		{"map where a string is expected", "data_dir:\n  path: x\n", 2, "data_dir", "expected a string, got a mapping"},
		{"map where a list is expected", "trunks:\n  name: x\n", 2, "trunks", "expected a list"},
		{"list item not a map", "users:\n  - alice\n", 2, "users[0]", `expected a mapping (key: value lines), got "alice"`},
		{"sip.listen no port", "sip:\n  listen: 127.0.0.1\n", 2, "sip.listen", `"127.0.0.1" is not host:port`},
		{"sip.listen bad port", "sip:\n  listen: 127.0.0.1:99999\n", 2, "sip.listen", "not a number from 1 to 65535"},
		{"sip.listen bad host", "sip:\n  listen: \"exa mple:5060\"\n", 2, "sip.listen", "not an IP address or host name"},
		{"http.listen bad", "http:\n  listen: nope\n", 2, "http.listen", "is not host:port"},
		{"public_address bad", "sip:\n  public_address: sip://x\n", 2, "sip.public_address", "is not a host or host:port"},
		{"max_message_size small", "sip:\n  max_message_size: 100\n", 2, "sip.max_message_size", "out of range"},
		{"max_message_size text", "sip:\n  max_message_size: big\n", 2, "sip.max_message_size", `"big" is not a whole number`},
		{"user_agent newline", "sip:\n  user_agent: \"a\\r\\nVia: x\"\n", 2, "sip.user_agent", "control characters"},
		{"duplicate YAML key", "sip:\n  listen: 127.0.0.1:5060\n  listen: 127.0.0.1:5061\n", 3, "sip.listen", "duplicate key (first set on line 2)"},
		{"duplicate top-level key", "data_dir: a\ndata_dir: b\n", 2, "data_dir", "duplicate key"},
		{"default_region unknown", "default_region: XX\n", 1, "default_region", `"XX" is not a known region`},
		{"drain_timeout negative", "drain_timeout: -1s\n", 1, "drain_timeout", "must not be negative"},
		{"data_dir empty", "data_dir: \"\"\n", 1, "data_dir", "must not be empty"},
		{"trunk name missing", "trunks:\n  - inbound: {}\n", 2, "trunks[0].name", "is required"},
		{"trunk name bad", "trunks:\n  - name: My Carrier\n", 2, "trunks[0].name", `"My Carrier" may use only`},
		{"trunk name duplicate", "trunks:\n  - name: a\n  - name: a\n", 3, "trunks[1].name", `duplicate trunk name "a" (also trunks[0])`},
		{"proxy required", strings.Replace(valid, "      proxy: sip:127.0.0.1:5070\n", "      username: u\n", 1), 6, "trunks[0].outbound.proxy", "is required because numbers[0] sends calls through this trunk"},
		{"proxy bad", strings.Replace(valid, "proxy: sip:127.0.0.1:5070", "proxy: 127.0.0.1:5070", 1), 6, "trunks[0].outbound.proxy", `must start with "sip:"`},
		{"register without credentials", strings.Replace(valid, "      proxy:", "      register: true\n      proxy:", 1), 6, "trunks[0].outbound.register", "needs username and password"},
		{"register not bool", strings.Replace(valid, "      proxy:", "      register: yes\n      proxy:", 1), 6, "trunks[0].outbound.register", `"yes" is not true or false`},
		{"register_expiry short", strings.Replace(valid, "      proxy:", "      register_expiry: 59s\n      proxy:", 1), 6, "trunks[0].outbound.register_expiry", "out of range (60s to 24h)"},
		{"password without username", strings.Replace(valid, "      proxy:", "      password: p\n      proxy:", 1), 6, "trunks[0].outbound.username", "is required because a password is set"},
		{"from_domain bad", strings.Replace(valid, "      proxy:", "      from_domain: \"a b\"\n      proxy:", 1), 6, "trunks[0].outbound.from_domain", "is not a domain name"},
		{"user id missing", "users:\n  - name: Alice\n", 2, "users[0].id", "is required"},
		{"user id bad", "users:\n  - id: Alice\n", 2, "users[0].id", `"Alice" may use only`},
		{"user id duplicate", "users:\n  - id: a\n  - id: a\n", 3, "users[1].id", `duplicate user id "a" (also users[0])`},
		{"user token shared", "users:\n  - id: a\n    token: t0ken\n  - id: b\n    token: t0ken\n", 5, "users[1].token", "same token as users[0]"},
		{"two documents", "data_dir: a\n---\ndata_dir: b\n", 2, "", "second YAML document"},
		{"syntax error", "sip:\n  listen: [\n", 2, "", "YAML syntax"},
		{"bad indentation", "sip:\n  listen: a\n user_agent: b\n", 2, "", "YAML syntax"},
		{"non-scalar key", "? [a, b]\n: c\n", 1, "", "a key must be a plain word"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.doc), "test.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want an error", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config alongside the error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			prefix := fmt.Sprintf("test.yaml:%d: ", tt.line)
			if tt.path != "" {
				prefix += tt.path + ": "
			}
			found := false
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.HasPrefix(l, prefix) && strings.Contains(l, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("error does not have a line starting %q containing %q:\n%v", prefix, tt.msg, err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != "test.yaml" {
				t.Errorf("errors.As(*FieldError) = %+v", fe)
			}
		})
	}
}

func TestExactMessages(t *testing.T) {
	tests := []struct{ doc, want string }{
		{strings.Replace(valid, `forward_to: "+15550199"`, "forward_to: abc", 1), `test.yaml:12: numbers[0].forward_to: "abc" is not a phone number`},
		{"sip:\n  lisen: 127.0.0.1:5060\n", "test.yaml:2: sip.lisen: unknown key"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), "test.yaml")
		if err == nil || !containsLine(err.Error(), tt.want) {
			t.Errorf("error = %v\nwant a line exactly %q", err, tt.want)
		}
	}
}

func TestAllErrorsReportedInLineOrder(t *testing.T) {
	doc := `numbers:
  - number: "+15550100"
    trunk: nope
    forward_to: abc
    ring_timeout: fast
sip:
  lisen: x
  max_message_size: 10
rtp:
  ports: 20001-20999
`
	_, err := Parse([]byte(doc), "multi.yaml")
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Parse = %v, want ErrInvalid", err)
	}
	want := []string{
		`multi.yaml:3: numbers[0].trunk: no trunk is named "nope"`,
		`multi.yaml:4: numbers[0].forward_to: "abc" is not a phone number`,
		`multi.yaml:5: numbers[0].ring_timeout: "fast" is not a duration`,
		`multi.yaml:7: sip.lisen: unknown key`,
		`multi.yaml:8: sip.max_message_size: 10 is out of range`,
		`multi.yaml:10: rtp.ports: "20001-20999" starts on an odd port`,
	}
	lines := strings.Split(err.Error(), "\n")
	if !strings.HasPrefix(lines[0], "invalid configuration (6 problems)") {
		t.Errorf("first line = %q, want the ErrInvalid summary with the count", lines[0])
	}
	lines = lines[1:]
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], w)
		}
	}
}

func TestWrongTypeDoesNotAlsoReportRequired(t *testing.T) {
	_, err := Parse([]byte("numbers:\n  - number: [1, 2]\n    trunk: x\n    ringing: browser\n"), "t.yaml")
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "is required") {
		t.Errorf("a wrongly typed number was also reported missing:\n%v", err)
	}
	if !strings.Contains(err.Error(), "t.yaml:2: numbers[0].number: expected a string, got a list") {
		t.Errorf("missing the type error:\n%v", err)
	}
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

func TestAdminToken(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unset", "http:\n  listen: \"127.0.0.1:8080\"\n", ""},
		{"empty", "http:\n  admin_token: \"\"\n", ""},
		{"sixteen characters", "http:\n  admin_token: \"0123456789abcdef\"\n", "0123456789abcdef"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tc.doc), "t.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cfg.HTTP.AdminToken != tc.want {
				t.Errorf("http.admin_token = %q, want %q", cfg.HTTP.AdminToken, tc.want)
			}
		})
	}
}
