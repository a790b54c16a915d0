package sip_test

import (
	"strings"
	"testing"
	"time"

	"switchboard/store"
)

// TestGatewayRejectsInvites checks INVITEs the gateway must refuse before
// any call goes out: a number we do not own (404) and an offer without a
// codec we speak (488, RFC 3261 §13.3.1.1 with a Warning, §20.43). Neither
// may reach the carrier's proxy: that would be a call nobody asked for.
func TestGatewayRejectsInvites(t *testing.T) {
	g := startGateway(t, gwOptions{})
	tests := []struct {
		name    string
		dialled string
		sdp     string
		want    int
		check   func(t *testing.T, warning string)
	}{
		{
			name: "unknown number", dialled: "+15559999", want: 404,
			sdp: sdpOffer(40000, "sendrecv", 0, 8, 101),
		},
		{
			name: "G.729 only", dialled: ourNumber, want: 488,
			sdp: sdpOffer(40000, "sendrecv", 18),
			check: func(t *testing.T, warning string) {
				if !strings.HasPrefix(warning, "305 ") {
					t.Errorf("488 Warning = %q, want code 305 (incompatible media format)", warning)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := g.trunk.newUAC(g.addr, tc.dialled)
			c.sendInvite(tc.sdp)
			res := c.inviteFinal(5 * time.Second)
			if res.StatusCode != tc.want {
				t.Fatalf("INVITE to %s: got %s, want %d", tc.dialled, describe(res), tc.want)
			}
			if tag, _ := res.To().Params.Get("tag"); tag == "" {
				t.Errorf("%d has no To tag (RFC 3261 §8.2.6.2)", res.StatusCode)
			}
			if tc.check != nil {
				tc.check(t, header(res, "Warning"))
			}
			c.ackFailure()
			// The ACK ends the server transaction: no retransmission of the
			// final response may follow it (RFC 3261 §17.2.1).
			g.trunk.expectNone(300*time.Millisecond, "retransmission after ACK",
				isResponse(c.callID, c.invite.CSeq, "INVITE", func(code int) bool { return code >= 200 }))
			g.callee.expectNone(100*time.Millisecond, "INVITE at the carrier proxy", isRequest("INVITE", c.callID))
		})
	}
	// Nothing reached the proxy under any Call-ID either.
	g.callee.expectNone(100*time.Millisecond, "any INVITE at the carrier proxy", func(r *received) bool { return true })

	eventually(t, 5*time.Second, "engine has no active call", func() bool { return g.engine.Active() == 0 })
	calls, _, err := g.store.ListCalls(store.ListOptions{})
	if err != nil {
		t.Fatalf("ListCalls: %v", err)
	}
	for _, c := range calls {
		if c.EndedAt == nil {
			t.Errorf("call record %s left open", c.ID)
		}
	}
}
