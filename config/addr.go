package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// validHost reports whether h is an IP address or a DNS host name
// (RFC 1123 §2.1: dot-separated labels of letters, digits and inner hyphens).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// parsePort parses a decimal TCP/UDP port, 1..65535.
func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || s[0] == '+' {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return p, nil
}

// checkListen validates a "host:port" listen address. The host may be empty
// (every interface), an IP address or a host name; IPv6 needs brackets.
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port (for example \"0.0.0.0:5060\" or \"[::1]:5060\")", s)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("%q: %q is not an IP address or host name", s, host)
	}
	if _, err := parsePort(port); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

// checkHostOptionalPort validates "host" or "host:port" (IPv6 bare or in
// brackets).
func checkHostOptionalPort(s string) error {
	if validHost(s) {
		return nil
	}
	if h, ok := strings.CutPrefix(s, "["); ok && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(strings.TrimSuffix(h, "]")); err == nil && a.Is6() {
			return nil
		}
	}
	host, port, err := net.SplitHostPort(s)
	if err == nil && validHost(host) {
		if _, err = parsePort(port); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%q is not a host or host:port (for example \"203.0.113.7\" or \"pbx.example.com:5060\")", s)
}

// parseAllow turns an allow entry (CIDR or bare IP) into a masked prefix.
// IPv4-mapped IPv6 entries become IPv4 so they compare with unmapped peers.
func parseAllow(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (for example \"203.0.113.0/24\")", s)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}
