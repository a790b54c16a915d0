package livestream

import (
	"errors"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // substring of the error; "" means valid
	}{
		{"ws://127.0.0.1:8080/stream", ""},
		{"wss://transcribe.example.com/v1/live?token=abc", ""},
		{"WSS://example.com", ""},
		{"wss://[::1]:9443/x", ""},
		{"", "empty"},
		{"   ", "empty"},
		{"http://example.com/stream", `scheme "http"`},
		{"https://example.com/stream", `scheme "https"`},
		{"/stream", "not absolute"},
		{"example.com/stream", "not absolute"},
		{"ws:///stream", "no host"},
		{"ws://:8080/stream", "no host"},
		{"ws:opaque", "no host"},
		{"wss://user:pw@example.com/", "user information"},
		{"wss://example.com/stream#frag", "fragment"},
		{"ws://exa mple.com/", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := ParseURL(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseURL(%q) = %v, want it accepted", tt.in, err)
				}
				if u.Scheme != "ws" && u.Scheme != "wss" || u.Host == "" {
					t.Fatalf("ParseURL(%q) = %v", tt.in, u)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseURL(%q) accepted, want an error containing %q", tt.in, tt.wantErr)
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseURL(%q) = %v, want ErrConfig containing %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestLogURLHidesQuery(t *testing.T) {
	u, err := ParseURL("wss://example.com:9443/live/x?token=secret")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := logURL(u), "wss://example.com:9443/live/x"; got != want {
		t.Fatalf("logURL = %q, want %q", got, want)
	}
}
