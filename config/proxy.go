package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Proxy is a trunk's outbound proxy URI taken apart.
type Proxy struct {
	Host      string // Host is an IP address (IPv6 without brackets) or a DNS name.
	Port      int    // Port is 0 when the URI names none.
	Transport string // Transport is "udp" or "tcp".
}

// DefaultSIPPort is the port used when a proxy URI names none (RFC 3261 §19.1.2).
const DefaultSIPPort = 5060

// Addr returns "host:port" for dialling, with DefaultSIPPort when the URI
// named no port.
func (p Proxy) Addr() string {
	port := p.Port
	if port == 0 {
		port = DefaultSIPPort
	}
	return net.JoinHostPort(p.Host, strconv.Itoa(port))
}

// ParseProxy parses "sip:host[:port][;transport=udp|tcp][;lr]". The host is
// an IP address (IPv6 in brackets) or a DNS name; a user part, headers and
// other parameters are refused because they mean nothing for a next hop.
// Transport defaults to "udp" (RFC 3263 §4.1 for a URI with a numeric
// address or explicit port).
func ParseProxy(s string) (Proxy, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, "sip") {
		return Proxy{}, errors.New(`must start with "sip:" (for example "sip:sip.example.com:5060;transport=tcp")`)
	}
	if strings.ContainsAny(rest, "@?") {
		return Proxy{}, errors.New(`must be just "sip:host[:port]" with no user part or headers`)
	}
	hostport, params, _ := strings.Cut(rest, ";")
	p := Proxy{Transport: "udp"}
	if err := p.setHostPort(hostport); err != nil {
		return Proxy{}, err
	}
	if params == "" {
		return p, nil
	}
	for _, param := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(param, "=")
		// RFC 3261 §19.1.4: parameter names and transport values compare
		// case-insensitively.
		switch strings.ToLower(k) {
		case "transport":
			v = strings.ToLower(v)
			if v != "udp" && v != "tcp" {
				return Proxy{}, fmt.Errorf("transport %q is not supported (use udp or tcp)", v)
			}
			p.Transport = v
		case "lr":
			// Loose routing is how we treat every proxy anyway (RFC 3261 §16.12).
		default:
			return Proxy{}, fmt.Errorf("parameter %q is not supported (only transport and lr)", k)
		}
	}
	return p, nil
}

func (p *Proxy) setHostPort(hp string) error {
	host, port, hasPort := hp, "", false
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return fmt.Errorf("%q has an unclosed \"[\"", hp)
		}
		host = hp[1:end]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
			return fmt.Errorf("%q is not an IPv6 address", host)
		}
		switch after := hp[end+1:]; {
		case after == "":
		case strings.HasPrefix(after, ":"):
			port, hasPort = after[1:], true
		default:
			return fmt.Errorf("%q is not host[:port]", hp)
		}
	} else {
		if strings.Count(hp, ":") > 1 {
			return fmt.Errorf("%q: an IPv6 address must be in brackets", hp)
		}
		host, port, hasPort = strings.Cut(hp, ":")
		if !validHost(host) {
			return fmt.Errorf("%q is not an IP address or host name", host)
		}
	}
	if hasPort {
		n, err := parsePort(port)
		if err != nil {
			return err
		}
		p.Port = n
	}
	p.Host = host
	return nil
}
