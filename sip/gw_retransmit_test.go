package sip_test

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestGatewayAcksRetransmitted200 checks RFC 3261 §13.2.2.4: the UAC core
// ACKs every 2xx the transport delivers, so a callee whose ACK was lost and
// that retransmits its 200 gets the ACK again.
func TestGatewayAcksRetransmitted200(t *testing.T) {
	g := startGateway(t, gwOptions{})
	callerRTP, calleeRTP := newRTPPeer(t), newRTPPeer(t)
	caller := g.trunk.newUAC(g.addr, ourNumber)
	caller.sendInvite(sdpOffer(callerRTP.port, "sendrecv", 0, 101))
	callee := g.callee.expectInvite(5 * time.Second)

	ok := callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))
	first := g.callee.wait(5*time.Second, "ACK of the 200", isRequest("ACK", callee.callID())).msg.(*sip.Request)
	checkAck(t, first, callee)

	g.callee.send(ok, callee.src)
	again := g.callee.wait(2*time.Second, "ACK of the retransmitted 200", isRequest("ACK", callee.callID())).msg.(*sip.Request)
	checkAck(t, again, callee)
	if first.CSeq().SeqNo != again.CSeq().SeqNo {
		t.Errorf("re-sent ACK has CSeq %d, first had %d", again.CSeq().SeqNo, first.CSeq().SeqNo)
	}

	res := caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("caller got %s, want 200", describe(res))
	}
	caller.ack("")
	g.hangupFromCaller(t, &established{caller: caller, callee: callee})
}

// checkAck verifies an ACK for the callee's 2xx belongs to its dialog: same
// Call-ID, the INVITE's CSeq number, our To tag (RFC 3261 §13.2.2.4).
func checkAck(t *testing.T, ack *sip.Request, u *uas) {
	t.Helper()
	if ack.CSeq().SeqNo != u.invite.CSeq().SeqNo {
		t.Errorf("ACK CSeq %d, INVITE had %d", ack.CSeq().SeqNo, u.invite.CSeq().SeqNo)
	}
	if tag, _ := ack.To().Params.Get("tag"); tag != u.toTag {
		t.Errorf("ACK To tag %q, want the 200's %q", tag, u.toTag)
	}
	if ack.Via().Params == nil {
		t.Fatal("ACK has no Via parameters")
	}
	if b, _ := ack.Via().Params.Get("branch"); b == "" {
		t.Error("ACK has no Via branch")
	} else if ib, _ := u.invite.Via().Params.Get("branch"); b == ib {
		t.Errorf("ACK of a 2xx reuses the INVITE's branch %q; it is a transaction of its own (RFC 3261 §17.1.1.3)", b)
	}
}

// TestGateway200RetransmittedUntilAck checks the other side of the same rule
// (RFC 3261 §13.3.1.4): as UAS toward the trunk, the gateway retransmits its
// 2xx, starting at T1, until the caller's ACK arrives.
func TestGateway200RetransmittedUntilAck(t *testing.T) {
	g := startGateway(t, gwOptions{})
	callerRTP, calleeRTP := newRTPPeer(t), newRTPPeer(t)
	caller := g.trunk.newUAC(g.addr, ourNumber)
	caller.sendInvite(sdpOffer(callerRTP.port, "sendrecv", 0, 101))
	callee := g.callee.expectInvite(5 * time.Second)
	callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))

	res := caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("caller got %s, want 200", describe(res))
	}
	// No ACK yet: the 200 must come again within T1 plus slack.
	again := g.trunk.wait(2*time.Second, "retransmitted 200", isResponse(caller.callID, caller.invite.CSeq, "INVITE", func(c int) bool { return c == 200 }))
	if tag, _ := again.msg.(*sip.Response).To().Params.Get("tag"); tag != caller.toTag {
		t.Errorf("retransmitted 200 has To tag %q, first had %q", tag, caller.toTag)
	}
	caller.ack("")
	// After the ACK the retransmissions stop (allow one already in flight).
	g.trunk.poll(100*time.Millisecond, isResponse(caller.callID, caller.invite.CSeq, "INVITE", func(c int) bool { return c == 200 }))
	g.trunk.expectNone(1200*time.Millisecond, "200 retransmitted after the ACK",
		isResponse(caller.callID, caller.invite.CSeq, "INVITE", func(c int) bool { return c == 200 }))

	g.hangupFromCaller(t, &established{caller: caller, callee: callee})
}

// TestGatewayReinvite200RetransmittedUntilAck applies the same rule to a
// re-INVITE: RFC 3261 §17.2.1 hands every 2xx to an INVITE, a re-INVITE's
// too, to the transport once and leaves its retransmission to the UAS core
// (§13.3.1.4). Without it one lost 200 on UDP leaves the caller's re-INVITE
// unanswered (the server transaction absorbs the retransmitted request), and
// the caller ends the dialog after Timer B (§12.2.1.2: 408 ends it).
func TestGatewayReinvite200RetransmittedUntilAck(t *testing.T) {
	g := startGateway(t, gwOptions{})
	e := g.establish(t)

	cseq := e.caller.inDialog("INVITE", sdpOffer(e.callerRTP.port, "sendrecv", 0, 101))
	res := g.trunk.expectFinal(e.caller.callID, cseq, "INVITE", 5*time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("re-INVITE: got %s, want 200", describe(res))
	}
	g.trunk.wait(2*time.Second, "retransmitted 200 to the re-INVITE (no ACK sent yet)",
		isResponse(e.caller.callID, cseq, "INVITE", func(c int) bool { return c == 200 }))
	e.caller.ack("")
	g.hangupFromCaller(t, e)
}
