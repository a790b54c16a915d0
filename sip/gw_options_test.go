package sip_test

import (
	"strings"
	"testing"
	"time"

	"switchboard/metrics"
)

// TestGatewayOptions checks OPTIONS (RFC 3261 §11): a trunk learns what we
// implement; any other source learns nothing (a scanner probe gets 403).
func TestGatewayOptions(t *testing.T) {
	g := startGateway(t, gwOptions{})

	res := g.options(t, g.trunk)
	if res.StatusCode != 200 {
		t.Fatalf("OPTIONS from the trunk: got %s, want 200", describe(res))
	}
	allow := map[string]bool{}
	for _, m := range strings.Split(header(res, "Allow"), ",") {
		allow[strings.TrimSpace(m)] = true
	}
	for _, m := range []string{"INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "OPTIONS"} {
		if !allow[m] {
			t.Errorf("Allow %q lacks %s", header(res, "Allow"), m)
		}
	}
	if got := header(res, "Accept"); !strings.Contains(got, "application/sdp") {
		t.Errorf("Accept = %q, want application/sdp (RFC 3261 §11.2)", got)
	}

	stranger := newPeer(t, "127.0.0.2")
	rejected := metrics.Rejected.WithLabelValues("source_not_allowed")
	before := counterValue(t, rejected)
	res = g.options(t, stranger)
	if res.StatusCode != 403 {
		t.Fatalf("OPTIONS from 127.0.0.2 (outside the allow list): got %s, want 403", describe(res))
	}
	if got := header(res, "Allow"); got != "" {
		t.Errorf("403 to a stranger reveals Allow: %q", got)
	}
	if d := counterValue(t, rejected) - before; d != 1 {
		t.Errorf("rejected{source_not_allowed} rose by %v, want 1", d)
	}
}

// TestGatewayRequestsOutsideDialogs checks the answers to requests that
// match nothing or that we do not implement (RFC 3261 §8.2.1, §9.2, §15.1.2).
func TestGatewayRequestsOutsideDialogs(t *testing.T) {
	g := startGateway(t, gwOptions{})
	p := g.trunk
	tests := []struct {
		name      string
		method    string
		toTag     bool
		want      int
		wantAllow bool // RFC 3261 §21.4.6: a 405 MUST list what is allowed
	}{
		{name: "BYE for an unknown dialog", method: "BYE", toTag: true, want: 481},
		{name: "CANCEL matching no transaction", method: "CANCEL", want: 481},
		{name: "unknown method", method: "FOO", want: 501},
		{name: "REGISTER is not served", method: "REGISTER", want: 405, wantAllow: true},
		{name: "INFO outside a dialog", method: "INFO", toTag: true, want: 481},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := "<sip:" + ourNumber + "@" + g.addr.String() + ">"
			if tc.toTag {
				to += ";tag=" + newTag()
			}
			callID := newID(10)
			p.send(request{
				Method: tc.method, URI: "sip:" + ourNumber + "@" + g.addr.String(), Via: p.hostport(), Branch: newBranch(),
				From: "<sip:+15557770123@127.0.0.1>;tag=" + newTag(), To: to, CallID: callID, CSeq: 7,
				Contact: "<sip:trunk@" + p.hostport() + ">",
			}.text(), g.addr)
			res := p.expectFinal(callID, 7, tc.method, 5*time.Second)
			if res.StatusCode != tc.want {
				t.Fatalf("%s: got %s, want %d", tc.method, describe(res), tc.want)
			}
			if tc.wantAllow && !strings.Contains(header(res, "Allow"), "INVITE") {
				t.Errorf("%d lacks an Allow header listing INVITE: %q", res.StatusCode, header(res, "Allow"))
			}
		})
	}
}
