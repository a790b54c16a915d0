package sip_test

import (
	"testing"
	"time"
)

// TestGatewayHold puts an answered call on hold and back with re-INVITEs
// (RFC 3264 §8.4): the answer mirrors the direction, the held caller gets no
// media while it still sends its own, and sendrecv resumes both ways. An
// UPDATE with the RFC 2543 hold address 0.0.0.0 is accepted (RFC 3311 §5.2).
func TestGatewayHold(t *testing.T) {
	g := startGateway(t, gwOptions{})
	e := g.establish(t)
	e.callerRTP.flowsTo(e.gwA, e.calleeRTP, 3*time.Second)
	e.calleeRTP.flowsTo(e.gwB, e.callerRTP, 3*time.Second)

	// Hold: the caller will only send.
	cseq := e.caller.inDialog("INVITE", sdpOffer(e.callerRTP.port, "sendonly", 0, 101))
	res := g.trunk.expectFinal(e.caller.callID, cseq, "INVITE", 5*time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("hold re-INVITE: got %s, want 200", describe(res))
	}
	e.caller.ack("")
	if a := parseAudio(t, res.Body()); a.Dir != "recvonly" {
		t.Errorf("answer to a sendonly offer has a=%s, want a=recvonly (RFC 3264 §6.1)", a.Dir)
	}
	e.callerRTP.flowsTo(e.gwA, e.calleeRTP, 3*time.Second)
	e.calleeRTP.silentFor(e.gwB, e.callerRTP, 10, 100*time.Millisecond)

	// Resume.
	cseq = e.caller.inDialog("INVITE", sdpOffer(e.callerRTP.port, "sendrecv", 0, 101))
	res = g.trunk.expectFinal(e.caller.callID, cseq, "INVITE", 5*time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("resume re-INVITE: got %s, want 200", describe(res))
	}
	e.caller.ack("")
	if a := parseAudio(t, res.Body()); a.Dir != "sendrecv" {
		t.Errorf("answer to a sendrecv offer has a=%s, want a=sendrecv", a.Dir)
	}
	e.calleeRTP.flowsTo(e.gwB, e.callerRTP, 3*time.Second)
	e.callerRTP.flowsTo(e.gwA, e.calleeRTP, 3*time.Second)

	// RFC 2543-style hold in an UPDATE.
	cseq = e.caller.inDialog("UPDATE", sdpAt("0.0.0.0", e.callerRTP.port, "sendrecv", 0, 101))
	res = g.trunk.expectFinal(e.caller.callID, cseq, "UPDATE", 5*time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("UPDATE with c=0.0.0.0: got %s, want 200", describe(res))
	}
	if len(res.Body()) == 0 {
		t.Errorf("200 to an UPDATE with an offer carries no SDP answer (RFC 3311 §5.2)")
	} else {
		parseAudio(t, res.Body())
	}
	e.calleeRTP.silentFor(e.gwB, e.callerRTP, 10, 100*time.Millisecond)

	g.hangupFromCaller(t, e)
}
