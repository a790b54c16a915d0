package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"

	"switchboard/media"
)

func TestInfoDigit(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		want           media.Digit
		ok             bool
	}{
		{"dtmf-relay", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', true},
		{"dtmf-relay star lower-case key", "Application/DTMF-Relay", "signal= *\r\nduration=100", '*', true},
		{"dtmf-relay hash as event code", "application/dtmf-relay", "Signal=11\r\nDuration=100", '#', true},
		{"dtmf-relay letter", "application/dtmf-relay", "Signal=d\r\n", 'D', true},
		{"dtmf bare", "application/dtmf; charset=x", "#", '#', true},
		{"no signal line", "application/dtmf-relay", "Duration=160", 0, false},
		{"two keys", "application/dtmf", "12", 0, false},
		{"not a key", "application/dtmf", "x", 0, false},
		{"other type", "application/media_control+xml", "<x/>", 0, false},
		{"no body", "application/dtmf", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INFO, sip.Uri{User: "x", Host: "127.0.0.1"})
			if tc.ct != "" {
				req.AppendHeader(sip.NewHeader("Content-Type", tc.ct))
			}
			req.SetBody([]byte(tc.body))
			d, ok := infoDigit(req)
			if d != tc.want || ok != tc.ok {
				t.Fatalf("infoDigit = %q, %v; want %q, %v", d, ok, tc.want, tc.ok)
			}
		})
	}
}
