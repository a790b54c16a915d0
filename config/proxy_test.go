package config

import "testing"

func TestParseProxy(t *testing.T) {
	tests := []struct {
		in       string
		want     Proxy
		wantAddr string
	}{
		{"sip:127.0.0.1:5070", Proxy{Host: "127.0.0.1", Port: 5070, Transport: "udp"}, "127.0.0.1:5070"},
		{"sip:sip.example.com", Proxy{Host: "sip.example.com", Transport: "udp"}, "sip.example.com:5060"},
		{"SIP:sip.example.com;transport=TCP", Proxy{Host: "sip.example.com", Transport: "tcp"}, "sip.example.com:5060"},
		{"sip:[2001:db8::1]:5080;lr;transport=udp", Proxy{Host: "2001:db8::1", Port: 5080, Transport: "udp"}, "[2001:db8::1]:5080"},
		{"sip:[::1]", Proxy{Host: "::1", Transport: "udp"}, "[::1]:5060"},
	}
	for _, tt := range tests {
		got, err := ParseProxy(tt.in)
		if err != nil {
			t.Errorf("ParseProxy(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseProxy(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.Addr() != tt.wantAddr {
			t.Errorf("ParseProxy(%q).Addr() = %q, want %q", tt.in, got.Addr(), tt.wantAddr)
		}
	}
}

func TestParseProxyRejects(t *testing.T) {
	for _, in := range []string{
		"", "127.0.0.1:5070", "sips:example.com", "tel:+15550100", "sip:", "sip:user@example.com",
		"sip:example.com?subject=x", "sip:example.com:", "sip:example.com:0", "sip:example.com:99999",
		"sip:example.com:abc", "sip:2001:db8::1", "sip:[2001:db8::1", "sip:[1.2.3.4]", "sip:[::1]x",
		"sip:exa mple.com", "sip:-bad.example.com", "sip:example.com;transport=tls",
		"sip:example.com;maddr=1.2.3.4",
	} {
		if p, err := ParseProxy(in); err == nil {
			t.Errorf("ParseProxy(%q) = %+v, want an error", in, p)
		}
	}
}
