// Package config loads Switchboard's YAML configuration. Parsing is strict:
// unknown keys, wrong types and invalid values are all errors, every error
// names the key path and line ("switchboard.yaml:12: numbers[0].trunk: ..."),
// and all problems in a file are reported at once.
package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"

	"switchboard/routing"
)

// Config is the whole configuration file.
type Config struct {
	SIP           SIP           // yaml "sip"
	RTP           RTP           // yaml "rtp"
	HTTP          HTTP          // yaml "http"
	DataDir       string        // yaml "data_dir": directory for the database and recordings.
	DefaultRegion string        // yaml "default_region": ISO 3166-1 alpha-2 region (upper case) for numbers written without "+".
	DrainTimeout  time.Duration // yaml "drain_timeout": on SIGTERM, running calls may last this long before being hung up.
	Trunks        []Trunk       // yaml "trunks"
	Users         []User        // yaml "users"
	Numbers       []Number      // yaml "numbers"
	Contacts      []Contact     // yaml "contacts": caller ID directory; see Contact.
	WebRTC        WebRTC        // yaml "webrtc": browser media.
	Recording     Recording     // yaml "recording": the account-wide recording switch.
	Greetings     Greetings     // yaml "greetings": limits of uploaded greetings.
	Teams         []Team        // yaml "teams": how calls sent to a team ring.
}

// SIP configures the SIP listener.
type SIP struct {
	Listen         string // yaml "listen": host:port, UDP and TCP on the same address.
	PublicAddress  string // yaml "public_address": host[:port] for Contact, Via and SDP; empty means the listen address.
	MaxMessageSize int    // yaml "max_message_size": largest SIP message accepted, in bytes (1024..65535).
	UserAgent      string // yaml "user_agent": User-Agent and Server header value.
}

// RTP configures media sockets.
type RTP struct {
	Address string        // yaml "address": IP address media sockets bind to.
	Ports   string        // yaml "ports": "MIN-MAX" port range for RTP (even) and RTCP (odd) pairs.
	PortMin int           // PortMin is the first port of Ports; always even.
	PortMax int           // PortMax is the last port of Ports.
	Timeout time.Duration // yaml "timeout": an answered call with no RTP for this long is hung up (at least 1s).
}

// HTTP configures the web and API listener.
type HTTP struct {
	Listen         string   // yaml "listen": host:port.
	TLSCert        string   // yaml "tls_cert": PEM certificate file; with tls_key, serve HTTPS/WSS (browsers allow the microphone only on secure pages or localhost).
	TLSKey         string   // yaml "tls_key": PEM private key file.
	AllowedOrigins []string // yaml "allowed_origins": browser origins allowed on /ws besides the page's own.
	AdminToken     string   // yaml "admin_token": bearer secret for issuing users' sign-in tokens over the API; empty turns issuing off (at least 16 characters).
}

// Trunk is a SIP trunk provider connecting us to the phone network.
type Trunk struct {
	Name     string   // yaml "name": unique, [a-z0-9_-]+.
	Inbound  Inbound  // yaml "inbound"
	Outbound Outbound // yaml "outbound"
}

// Inbound says which source addresses may send this trunk's calls to us.
type Inbound struct {
	Allow    []string       // yaml "allow": CIDRs or bare IPs as written.
	Prefixes []netip.Prefix // Prefixes is Allow parsed and masked; IPv4-mapped IPv6 entries are stored as IPv4.
}

// Outbound says how we send calls to this trunk.
type Outbound struct {
	Proxy          string        // yaml "proxy": "sip:host[:port][;transport=tcp]"; see ParseProxy.
	Username       string        // yaml "username": digest authentication user.
	Password       string        // yaml "password": digest authentication password.
	Register       bool          // yaml "register": keep a REGISTER binding with the proxy.
	RegisterExpiry time.Duration // yaml "register_expiry": requested binding lifetime (60s..24h).
	FromDomain     string        // yaml "from_domain": domain for From URIs on calls out; empty means the proxy host.
}

// User is a person who answers and places calls.
type User struct {
	ID    string // yaml "id": unique, [a-z0-9_.-]+.
	Name  string // yaml "name": display name.
	Team  string // yaml "team": team name for routing.
	Token string // yaml "token": browser sign-in secret.
	// RecordOutbound (yaml "record_outbound") records this user's outbound
	// calls (when recording.allowed); the called party hears the consent
	// announcement of the number presented as caller ID after answering.
	RecordOutbound bool
}

// Number is one of our phone numbers and how its calls ring.
type Number struct {
	Number      string        // yaml "number": E.164 after loading; unique.
	Name        string        // yaml "name": label shown to whoever answers.
	Trunk       string        // yaml "trunk": name of the trunk the number lives on.
	Owner       string        // yaml "owner": user ID, optional.
	Ringing     string        // yaml "ringing": RingForward, RingBrowser or RingBoth.
	ForwardTo   string        // yaml "forward_to": E.164 number to forward calls to.
	RingTimeout time.Duration // yaml "ring_timeout": how long to ring before giving up (1s..300s).
	Record      bool          // yaml "record": record inbound calls (when recording.allowed); callers hear Consent first.
	Consent     Prompt        // yaml "consent": the recording-consent announcement (text, language, voice, audio).
	Voicemail   Voicemail     // yaml "voicemail": the number's voicemail box.
	// WorkingHours (yaml "working_hours") are the opening hours; nil is 24/7.
	WorkingHours *WorkingHours
	// NoAnswer (yaml "no_answer") runs when nobody answers in hours;
	// AfterHours (yaml "after_hours") runs instead of ringing outside them:
	// voicemail, team:<team>, forward:<E.164> or hangup. ["voicemail"]
	NoAnswer, AfterHours string
	// NoAnswerAction and AfterHoursAction are the parsed actions.
	NoAnswerAction, AfterHoursAction routing.Action
	// Screening (yaml "screening") makes a forwarded phone press 1 to accept. [false]
	Screening bool
	// ClosedAnnouncement (yaml "closed_announcement") is played before an
	// after-hours hangup: {text, language, voice} or {audio}.
	ClosedAnnouncement Prompt
	// Raw is the entry as written, as JSON: what the API stores and returns.
	Raw json.RawMessage
}

// Ringing modes for Number.Ringing.
const (
	// RingForward forwards calls to Number.ForwardTo through the trunk.
	RingForward = "forward"
	// RingBrowser rings the owner's signed-in browsers.
	RingBrowser = "browser"
	// RingBoth rings browsers and the forward number at the same time.
	RingBoth = "both"
)

// Default returns a configuration with every default applied and no trunks,
// users or numbers; it is what an empty file loads as.
func Default() *Config {
	return &Config{
		SIP: SIP{
			Listen:         "0.0.0.0:5060",
			MaxMessageSize: 8192,
			UserAgent:      "Switchboard",
		},
		RTP: RTP{
			Address: "0.0.0.0",
			Ports:   "20000-20999",
			PortMin: 20000,
			PortMax: 20999,
			Timeout: 30 * time.Second,
		},
		HTTP:          HTTP{Listen: "127.0.0.1:8080"},
		DataDir:       "./data",
		DefaultRegion: "US",
		DrainTimeout:  30 * time.Second,
		WebRTC:        WebRTC{TURN: TURN{TTL: time.Hour}},
		Recording:     Recording{Allowed: true, RetentionDays: 90},
		Greetings:     Greetings{MaxLength: 120 * time.Second},
	}
}

// defaultOutbound and defaultNumber hold the per-item defaults applied to
// each trunk and number before its keys are read.
func defaultOutbound() Outbound {
	return Outbound{RegisterExpiry: 3600 * time.Second}
}

func defaultNumber() Number {
	return Number{Ringing: RingForward, RingTimeout: 25 * time.Second, Consent: defaultConsent(), Voicemail: defaultVoicemail(),
		NoAnswer: "voicemail", AfterHours: "voicemail", ClosedAnnouncement: defaultClosed()}
}

// Load reads and parses the configuration file at path. A file that cannot be
// read yields an error wrapping the os error; an invalid one wraps ErrInvalid.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// NumberByE164 returns our number whose E.164 form is e.
func (c *Config) NumberByE164(e string) (*Number, bool) {
	for i := range c.Numbers {
		if c.Numbers[i].Number == e {
			return &c.Numbers[i], true
		}
	}
	return nil, false
}

// Trunk returns the trunk called name.
func (c *Config) Trunk(name string) (*Trunk, bool) {
	for i := range c.Trunks {
		if c.Trunks[i].Name == name {
			return &c.Trunks[i], true
		}
	}
	return nil, false
}

// User returns the user whose ID is id.
func (c *Config) User(id string) (*User, bool) {
	for i := range c.Users {
		if c.Users[i].ID == id {
			return &c.Users[i], true
		}
	}
	return nil, false
}

// Allows reports whether a request from addr may use this trunk inbound. An
// IPv4-mapped IPv6 address (what a dual-stack socket reports for an IPv4
// peer) matches the IPv4 prefixes, and an IPv6 zone is ignored.
func (t *Trunk) Allows(addr netip.Addr) bool {
	addr = addr.Unmap().WithZone("")
	for _, p := range t.Inbound.Prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
