package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// WebRTC configures browser media: how the gateway's ICE agent finds
// addresses, and which STUN/TURN servers browsers are told about.
type WebRTC struct {
	PublicIPs  []string // yaml "public_ips": advertise these IPs as host candidates (NAT 1:1).
	Ports      string   // yaml "ports": "MIN-MAX" UDP range for ICE; empty means any ephemeral port.
	PortMin    int      // PortMin is the first port of Ports (0 when unset).
	PortMax    int      // PortMax is the last port of Ports (0 when unset).
	Loopback   bool     // yaml "loopback": also offer 127.0.0.1 candidates (one-machine setups and tests).
	Interfaces []string // yaml "interfaces": only gather candidates on these interfaces; empty means all.
	STUN       []string // yaml "stun": STUN URLs ("stun:host:port") for browsers and the gateway.
	TURN       TURN     // yaml "turn"
}

// TURN is a TURN relay for browsers behind strict NATs.
type TURN struct {
	URLs       []string      // yaml "urls": "turn:host:port?transport=udp", "turns:host:443?transport=tcp".
	Username   string        // yaml "username": static credentials (when no secret).
	Credential string        // yaml "credential"
	Secret     string        // yaml "secret": shared secret for short-lived credentials (TURN REST API, RFC 8489 long-term auth).
	TTL        time.Duration // yaml "ttl": lifetime of short-lived credentials ["1h"].
}

var wrPortsRE = regexp.MustCompile(`^(\d{1,5})-(\d{1,5})$`)

func (d *decoder) webrtc(n *yaml.Node, p string, w *WebRTC) {
	d.mapping(n, p, keys{
		"public_ips": d.stringList(&w.PublicIPs),
		"ports":      d.str(&w.Ports),
		"loopback":   d.boolean(&w.Loopback),
		"interfaces": d.stringList(&w.Interfaces),
		"stun":       d.stringList(&w.STUN),
		"turn": func(n *yaml.Node, p string) {
			d.mapping(n, p, keys{
				"urls":       d.stringList(&w.TURN.URLs),
				"username":   d.str(&w.TURN.Username),
				"credential": d.str(&w.TURN.Credential),
				"secret":     d.str(&w.TURN.Secret),
				"ttl":        d.duration(&w.TURN.TTL),
			})
		},
	})
}

func (d *decoder) validateWebRTC(w *WebRTC) {
	for i, ip := range w.PublicIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			d.failAt(fmt.Sprintf("webrtc.public_ips[%d]", i), "%q is not an IP address", ip)
		}
	}
	if w.Ports != "" {
		m := wrPortsRE.FindStringSubmatch(w.Ports)
		lo, hi := 0, 0
		if m != nil {
			lo, _ = strconv.Atoi(m[1])
			hi, _ = strconv.Atoi(m[2])
		}
		if m == nil || lo < 1024 || hi > 65535 || lo >= hi {
			d.failAt("webrtc.ports", "%q is not a UDP port range MIN-MAX within 1024-65535", w.Ports)
		} else {
			w.PortMin, w.PortMax = lo, hi
		}
	}
	for i, u := range w.STUN {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") {
			d.failAt(fmt.Sprintf("webrtc.stun[%d]", i), "%q is not a stun: or stuns: URL", u)
		}
	}
	for i, u := range w.TURN.URLs {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			d.failAt(fmt.Sprintf("webrtc.turn.urls[%d]", i), "%q is not a turn: or turns: URL", u)
		}
	}
	if len(w.TURN.URLs) > 0 && w.TURN.Secret == "" && (w.TURN.Username == "" || w.TURN.Credential == "") {
		d.failAt("webrtc.turn", "needs a secret (short-lived credentials) or a username and credential")
	}
	if w.TURN.TTL < time.Minute || w.TURN.TTL > 48*time.Hour {
		d.failAt("webrtc.turn.ttl", "%s is out of range (1m to 48h)", w.TURN.TTL)
	}
}

// validateHTTPS checks the TLS files and browser origins of http.
func (d *decoder) validateHTTPS(h *HTTP) {
	if (h.TLSCert == "") != (h.TLSKey == "") {
		d.failAt("http.tls_cert", "tls_cert and tls_key go together: set both or neither")
	}
	for key, f := range map[string]string{"http.tls_cert": h.TLSCert, "http.tls_key": h.TLSKey} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			d.failAt(key, "%q cannot be read: %v", f, err)
		}
	}
	for i, o := range h.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			d.failAt(fmt.Sprintf("http.allowed_origins[%d]", i), "%q is not an origin like https://phone.example.com", o)
		}
	}
}
