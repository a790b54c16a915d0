package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"switchboard/routing"
)

func TestParseEmptyGivesDefaults(t *testing.T) {
	for _, doc := range []string{"", "\n\n", "# nothing here\n", "~\n", "---\n"} {
		cfg, err := Parse([]byte(doc), "empty.yaml")
		if err != nil {
			t.Fatalf("Parse(%q): %v", doc, err)
		}
		if !reflect.DeepEqual(cfg, Default()) {
			t.Errorf("Parse(%q) = %+v, want defaults %+v", doc, cfg, Default())
		}
	}
}

func TestDefaults(t *testing.T) {
	d := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"sip.listen", d.SIP.Listen, "0.0.0.0:5060"},
		{"sip.public_address", d.SIP.PublicAddress, ""},
		{"sip.max_message_size", d.SIP.MaxMessageSize, 8192},
		{"sip.user_agent", d.SIP.UserAgent, "Switchboard"},
		{"rtp.address", d.RTP.Address, "0.0.0.0"},
		{"rtp.ports", d.RTP.Ports, "20000-20999"},
		{"rtp.PortMin", d.RTP.PortMin, 20000},
		{"rtp.PortMax", d.RTP.PortMax, 20999},
		{"rtp.timeout", d.RTP.Timeout, 30 * time.Second},
		{"http.listen", d.HTTP.Listen, "127.0.0.1:8080"},
		{"data_dir", d.DataDir, "./data"},
		{"default_region", d.DefaultRegion, "US"},
		{"drain_timeout", d.DrainTimeout, 30 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestPerItemDefaultsApplied(t *testing.T) {
	cfg, err := Parse([]byte(`
trunks:
  - name: carrier
    outbound:
      proxy: sip:127.0.0.1
numbers:
  - number: "+15550100"
    trunk: carrier
    forward_to: "+15550199"
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Trunks[0].Outbound.RegisterExpiry; got != time.Hour {
		t.Errorf("register_expiry default = %v, want 1h", got)
	}
	if cfg.Trunks[0].Outbound.Register {
		t.Error("register default = true, want false")
	}
	n := cfg.Numbers[0]
	if n.Ringing != RingForward || n.RingTimeout != 25*time.Second {
		t.Errorf("number defaults = ringing %q timeout %v, want forward 25s", n.Ringing, n.RingTimeout)
	}
	if cfg.SIP.Listen != "0.0.0.0:5060" || cfg.RTP.PortMin != 20000 {
		t.Errorf("top-level defaults lost: %+v %+v", cfg.SIP, cfg.RTP)
	}
}

func TestParseFull(t *testing.T) {
	cfg, err := Parse([]byte(`
sip:
  listen: "[::1]:5080"
  public_address: pbx.example.com:5080
  max_message_size: 0x2000
  user_agent: Test UA
rtp:
  address: "::"
  ports: 30000 - 30003
  timeout: 1m
http:
  listen: ":9090"
data_dir: /var/lib/switchboard
default_region: pl
drain_timeout: 0s
webrtc:
  public_ips: ["203.0.113.10"]
  ports: "40000-40999"
  loopback: true
  interfaces: [eth0]
  stun: ["stun:stun.example.com:3478"]
  turn:
    urls: ["turn:turn.example.com:3478?transport=udp"]
    secret: shh
    ttl: 30m
trunks:
  - name: pl-carrier
    inbound:
      allow: ["192.0.2.77/24", "2001:db8::1", "::ffff:198.51.100.9"]
    outbound:
      proxy: sip:sip.example.pl;transport=TCP;lr
      username: "48225550100"
      password: 1234
      register: true
      register_expiry: 10m
      from_domain: example.pl
users:
  - id: bob.smith
    name: Bob
    team: sales
    token: s3cret
    record_outbound: true
recording:
  allowed: false
  retention_days: 30
  stream_url: "wss://transcribe.example.com/calls"
teams:
  - { name: sales, ring: rotation, member_timeout: 10s }
greetings:
  max_length: 45s
numbers:
  - number: (22) 555 01 00
    name: Warsaw
    trunk: pl-carrier
    owner: bob.smith
    ringing: both
    forward_to: 601 234 567
    ring_timeout: 300s
    record: true
    consent:
      text: "Rozmowa może być nagrywana."
      language: pl
    voicemail:
      enabled: true
      max_length: 60s
      silence_timeout: 3s
      in_hours: { tts: "Zostaw wiadomość.", language: pl, voice: m3 }
      after_hours: { audio: "greetings/closed.mp3" }
    working_hours:
      timezone: Europe/Warsaw
      hours:
        - { days: [mon-fri], from: "09:00", to: "17:00" }
        - { days: [sat], from: "22:00", to: "02:00" }
      closed_dates: ["2026-12-24", "2026-12-25"]
      special_hours: [ { date: "2026-12-31", from: "09:00", to: "13:00" } ]
    no_answer: team:sales
    after_hours: forward:601 234 568
    screening: true
  - number: "+48 22 555 01 01"
    trunk: pl-carrier
    ringing: browser
`), "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		SIP:           SIP{Listen: "[::1]:5080", PublicAddress: "pbx.example.com:5080", MaxMessageSize: 8192, UserAgent: "Test UA"},
		RTP:           RTP{Address: "::", Ports: "30000 - 30003", PortMin: 30000, PortMax: 30003, Timeout: time.Minute},
		HTTP:          HTTP{Listen: ":9090"},
		DataDir:       "/var/lib/switchboard",
		DefaultRegion: "PL",
		DrainTimeout:  0,
		Trunks: []Trunk{{
			Name: "pl-carrier",
			Inbound: Inbound{
				Allow: []string{"192.0.2.77/24", "2001:db8::1", "::ffff:198.51.100.9"},
				Prefixes: []netip.Prefix{
					netip.MustParsePrefix("192.0.2.0/24"),
					netip.MustParsePrefix("2001:db8::1/128"),
					netip.MustParsePrefix("198.51.100.9/32"),
				},
			},
			Outbound: Outbound{
				Proxy: "sip:sip.example.pl;transport=TCP;lr", Username: "48225550100", Password: "1234",
				Register: true, RegisterExpiry: 10 * time.Minute, FromDomain: "example.pl",
			},
		}},
		Users: []User{{ID: "bob.smith", Name: "Bob", Team: "sales", Token: "s3cret", RecordOutbound: true}},
		Numbers: []Number{
			{
				Number: "+48225550100", Name: "Warsaw", Trunk: "pl-carrier", Owner: "bob.smith", Ringing: RingBoth, ForwardTo: "+48601234567", RingTimeout: 300 * time.Second,
				Record:  true,
				Consent: Prompt{Text: "Rozmowa może być nagrywana.", Language: "pl", Voice: "default"},
				Voicemail: Voicemail{
					Enabled: true, MaxLength: 60 * time.Second, SilenceTimeout: 3 * time.Second,
					InHours:    Prompt{Text: "Zostaw wiadomość.", Language: "pl", Voice: "m3"},
					AfterHours: Prompt{Audio: "greetings/closed.mp3", Language: "en-us", Voice: "default"},
				},
				WorkingHours: &WorkingHours{
					Timezone: "Europe/Warsaw",
					Hours: []HoursRange{
						{Days: []string{"mon-fri"}, From: "09:00", To: "17:00"},
						{Days: []string{"sat"}, From: "22:00", To: "02:00"},
					},
					ClosedDates:  []string{"2026-12-24", "2026-12-25"},
					SpecialHours: []SpecialHours{{Date: "2026-12-31", From: "09:00", To: "13:00"}},
				},
				NoAnswer: "team:sales", AfterHours: "forward:601 234 568",
				NoAnswerAction:     routing.Action{Kind: routing.ActionTeam, Team: "sales"},
				AfterHoursAction:   routing.Action{Kind: routing.ActionForward, Number: "+48601234568"},
				Screening:          true,
				ClosedAnnouncement: defaultClosed(),
			},
			{
				Number: "+48225550101", Trunk: "pl-carrier", Ringing: RingBrowser, RingTimeout: 25 * time.Second,
				Consent: defaultConsent(), Voicemail: defaultVoicemail(),
				NoAnswer: "voicemail", AfterHours: "voicemail", ClosedAnnouncement: defaultClosed(),
			},
		},
		Teams:     []Team{{Name: "sales", Ring: "rotation", MemberTimeout: 10 * time.Second}},
		Greetings: Greetings{MaxLength: 45 * time.Second},
		Recording: Recording{RetentionDays: 30, StreamURL: "wss://transcribe.example.com/calls"},
		WebRTC: WebRTC{
			PublicIPs: []string{"203.0.113.10"}, Ports: "40000-40999", PortMin: 40000, PortMax: 40999,
			Loopback: true, Interfaces: []string{"eth0"}, STUN: []string{"stun:stun.example.com:3478"},
			TURN: TURN{URLs: []string{"turn:turn.example.com:3478?transport=udp"}, Secret: "shh", TTL: 30 * time.Minute},
		},
	}
	// The parsed hours are checked by what they decide, not field by field.
	wh := cfg.Numbers[0].WorkingHours
	if wh == nil || wh.Parsed == nil || wh.Parsed.Location.String() != "Europe/Warsaw" {
		t.Fatalf("working hours not parsed: %+v", wh)
	}
	for when, want := range map[string]bool{
		"2026-11-23T10:00:00+01:00": true,  // Monday 10:00
		"2026-11-23T17:30:00+01:00": false, // Monday after 17:00
		"2026-11-29T01:00:00+01:00": true,  // Sunday 01:00: Saturday's range crosses midnight
		"2026-12-24T10:00:00+01:00": false, // a closed date
		"2026-12-31T12:00:00+01:00": true,  // special hours
		"2026-12-31T14:00:00+01:00": false,
	} {
		at, _ := time.Parse(time.RFC3339, when)
		if open, why := wh.Parsed.Open(at); open != want {
			t.Errorf("open at %s = %v (%s), want %v", when, open, why, want)
		}
	}
	wh.Parsed = nil
	// Raw is the entry as JSON, as the API stores it.
	for i := range cfg.Numbers {
		var raw map[string]any
		if err := json.Unmarshal(cfg.Numbers[i].Raw, &raw); err != nil || raw["trunk"] != "pl-carrier" {
			t.Errorf("numbers[%d].Raw = %s (%v)", i, cfg.Numbers[i].Raw, err)
		}
		cfg.Numbers[i].Raw = nil
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestLoadExample(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "configs", "example.yaml"))
	if err != nil {
		t.Fatalf("example.yaml must load cleanly: %v", err)
	}
	if cfg.SIP.Listen != "127.0.0.1:5060" || cfg.RTP.Address != "127.0.0.1" || cfg.HTTP.Listen != "127.0.0.1:8080" {
		t.Errorf("example listens on sip %q rtp %q http %q, want loopback", cfg.SIP.Listen, cfg.RTP.Address, cfg.HTTP.Listen)
	}
	if cfg.RTP.PortMin != 20000 || cfg.RTP.PortMax != 20999 || cfg.DataDir != "./data" {
		t.Errorf("example rtp ports %d-%d data_dir %q", cfg.RTP.PortMin, cfg.RTP.PortMax, cfg.DataDir)
	}
	tr, ok := cfg.Trunk("carrier")
	if !ok {
		t.Fatal(`example has no trunk "carrier"`)
	}
	if !tr.Allows(netip.MustParseAddr("127.0.0.1")) || tr.Allows(netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("carrier allow list = %v, want 127.0.0.0/8 only", tr.Inbound.Prefixes)
	}
	if p, err := ParseProxy(tr.Outbound.Proxy); err != nil || p.Addr() != "127.0.0.1:5070" {
		t.Errorf("carrier proxy %q parses to %+v, %v", tr.Outbound.Proxy, p, err)
	}
	if _, ok := cfg.User("alice"); !ok {
		t.Error("example has no user alice")
	}
	n, ok := cfg.NumberByE164("+15550100")
	if !ok {
		t.Fatal("example has no number +15550100")
	}
	if n.ForwardTo != "+15550199" || n.Ringing != RingForward || n.RingTimeout != 25*time.Second || n.Trunk != "carrier" {
		t.Errorf("example number = %+v", n)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrInvalid) {
		t.Errorf("Load(missing) = %v, must not wrap ErrInvalid", err)
	}
}

func TestLoadNamesFileInErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("sip:\n  lisen: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + ":2: sip.lisen: unknown key"
	if err == nil || !containsLine(err.Error(), want) {
		t.Errorf("Load error = %v, want a line %q", err, want)
	}
}

func TestLookups(t *testing.T) {
	cfg, err := Parse([]byte(`
trunks:
  - name: a
    outbound: {proxy: "sip:192.0.2.1"}
  - name: b
users:
  - id: alice
numbers:
  - {number: "+15550100", trunk: a, ringing: browser}
  - {number: "5550101", trunk: a, ringing: browser}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tr, ok := cfg.Trunk("b"); !ok || tr.Name != "b" {
		t.Errorf("Trunk(b) = %v, %v", tr, ok)
	}
	if _, ok := cfg.Trunk("c"); ok {
		t.Error("Trunk(c) found a trunk that does not exist")
	}
	if n, ok := cfg.NumberByE164("+15550101"); !ok || n != &cfg.Numbers[1] {
		t.Errorf("NumberByE164(+15550101) = %v, %v; want a pointer to numbers[1]", n, ok)
	}
	if _, ok := cfg.NumberByE164("5550101"); ok {
		t.Error("NumberByE164 matched a non-E.164 string")
	}
	if u, ok := cfg.User("alice"); !ok || u.ID != "alice" {
		t.Errorf("User(alice) = %v, %v", u, ok)
	}
	if _, ok := cfg.User("bob"); ok {
		t.Error("User(bob) found a user that does not exist")
	}
}

func TestAllows(t *testing.T) {
	cfg, err := Parse([]byte(`
trunks:
  - name: t
    inbound:
      allow: [203.0.113.7, 198.51.100.0/24, "2001:db8::/32", "::ffff:192.0.2.0/120", "10.1.2.3/8"]
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr := &cfg.Trunks[0]
	tests := []struct {
		addr string
		want bool
	}{
		{"203.0.113.7", true},
		{"203.0.113.8", false},
		{"::ffff:203.0.113.7", true},
		{"198.51.100.200", true},
		{"::ffff:198.51.100.1", true},
		{"198.51.101.1", false},
		{"2001:db8:1::5", true},
		{"2001:db9::1", false},
		{"fe80::1%eth0", false},
		{"192.0.2.99", true},
		{"10.200.0.1", true},
		{"11.0.0.1", false},
	}
	for _, tt := range tests {
		if got := tr.Allows(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Allows(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	var none Trunk
	if none.Allows(netip.MustParseAddr("127.0.0.1")) {
		t.Error("a trunk with no allow list allowed 127.0.0.1")
	}
}
