package sip_test

import (
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/store"
)

// expectAckThenBye asserts the callee's answered dialog is confirmed and then
// ended by the gateway: an ACK, then a BYE in the same dialog.
func expectAckThenBye(t *testing.T, g *gateway, callee *uas) {
	t.Helper()
	ack := g.callee.wait(5*time.Second, "ACK of the callee's 200", isRequest("ACK", callee.callID()))
	bye := g.callee.wait(5*time.Second, "BYE ending the callee's answered dialog", isRequest("BYE", callee.callID()))
	if bye.seq < ack.seq {
		t.Errorf("BYE reached the callee before the ACK of its 200 (RFC 3261 §15)")
	}
	if tag, _ := bye.msg.(*sip.Request).To().Params.Get("tag"); tag != callee.toTag {
		t.Errorf("BYE To tag %q, want the 200's %q", tag, callee.toTag)
	}
}

// expectClean asserts no call, and no dialog, outlives the call just ended.
func expectClean(t *testing.T, g *gateway) store.CallRecord {
	t.Helper()
	eventually(t, 5*time.Second, "engine has no active call", func() bool { return g.engine.Active() == 0 })
	rec := g.lastCall(t)
	eventually(t, 2*time.Second, "no SIP dialog left registered", func() bool { return g.srv.DialogCount() == 0 })
	return rec
}

// ringing places a call and has the callee ring, with the 180 relayed.
func ringing(t *testing.T, g *gateway) (*uac, *uas, *rtpPeer) {
	t.Helper()
	callerRTP, calleeRTP := newRTPPeer(t), newRTPPeer(t)
	caller := g.trunk.newUAC(g.addr, ourNumber)
	caller.sendInvite(sdpOffer(callerRTP.port, "sendrecv", 0, 101))
	callee := g.callee.expectInvite(5 * time.Second)
	callee.respond(180, "")
	g.trunk.wait(5*time.Second, "180 relayed to the caller",
		isResponse(caller.callID, caller.invite.CSeq, "INVITE", func(c int) bool { return c == 180 }))
	return caller, callee, calleeRTP
}

// TestGatewayCancel200Race sends the caller's CANCEL in the same instant the
// callee answers (RFC 3261 §9.1, §15): whichever wins, no call may stay up.
// The callee's 200 is ACKed and the dialog ended with BYE; the caller gets
// 487, or, if the answer won, a 200 that it ACKs and ends with BYE itself.
// Several rounds vary which message the gateway handles first.
func TestGatewayCancel200Race(t *testing.T) {
	g := startGateway(t, gwOptions{})
	g.callee.autoRespond("BYE", 200)
	g.callee.autoRespond("CANCEL", 200) // a CANCEL after our final response still gets 200 (§9.2)
	for round := range 4 {
		caller, callee, calleeRTP := ringing(t, g)
		if round%2 == 0 {
			callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))
			caller.cancel()
		} else {
			caller.cancel()
			callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))
		}

		// The caller's CANCEL is answered 200 in any case (§9.2).
		if res := g.trunk.expectFinal(caller.callID, caller.invite.CSeq, "CANCEL", 5*time.Second); res.StatusCode != 200 {
			t.Errorf("round %d: CANCEL got %s, want 200", round, describe(res))
		}
		res := caller.inviteFinal(5 * time.Second)
		switch res.StatusCode {
		case 487:
			caller.ackFailure()
		case 200:
			caller.ack("")
			cseq := caller.inDialog("BYE", "")
			if bye := g.trunk.expectFinal(caller.callID, cseq, "BYE", 5*time.Second); bye.StatusCode != 200 {
				t.Errorf("round %d: caller's BYE after the answer won got %s", round, describe(bye))
			}
		default:
			t.Fatalf("round %d: INVITE got %s, want 487 or 200", round, describe(res))
		}
		expectAckThenBye(t, g, callee)
		rec := expectClean(t, g)
		if res.StatusCode == 487 && (rec.Outcome != store.OutcomeCancelled || rec.HangupSide != "caller") {
			t.Errorf("round %d: record outcome %q side %q after 487, want cancelled/caller", round, rec.Outcome, rec.HangupSide)
		}
	}
}

// TestGatewayCancelCrossing200 pins the race's hardest order: the gateway's
// CANCEL and the callee's 200 cross on the wire, so the callee answers the
// INVITE 200 and then the CANCEL 200 (RFC 3261 §9.1: the CANCEL then has no
// effect, the UAC must ACK the 2xx and send BYE). The caller is already gone.
func TestGatewayCancelCrossing200(t *testing.T) {
	g := startGateway(t, gwOptions{})
	g.callee.autoRespond("BYE", 200)
	caller, callee, calleeRTP := ringing(t, g)

	caller.cancel()
	cancel, src := g.callee.expectRequest("CANCEL", 5*time.Second)
	callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))
	g.callee.send(responseText(cancel, 200, "", callee.toTag, nil, ""), src)

	res := caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 487 {
		t.Fatalf("caller got %s, want 487", describe(res))
	}
	caller.ackFailure()
	expectAckThenBye(t, g, callee)
	rec := expectClean(t, g)
	if rec.Outcome != store.OutcomeCancelled || rec.HangupCause != "originator_cancel" {
		t.Errorf("record outcome %q cause %q, want cancelled/originator_cancel", rec.Outcome, rec.HangupCause)
	}
}

// TestGatewayByeOvertakesAck has the caller's BYE reach the gateway before
// the ACK of its 200, as happens when UDP reorders them or the ACK is lost
// (a caller that lost the CANCEL/200 race sends both at once). RFC 3261 §15
// lets the caller send BYE once it has the 2xx. The call was answered: the
// BYE ends it normally, and the record must say so, with the 200 the caller
// actually got.
func TestGatewayByeOvertakesAck(t *testing.T) {
	g := startGateway(t, gwOptions{})
	g.callee.autoRespond("BYE", 200)
	caller, callee, calleeRTP := ringing(t, g)
	callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0, 101))
	res := caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("caller got %s, want 200", describe(res))
	}

	// The ACK is late (lost and retransmitted, or reordered): the BYE is
	// served first, then the ACK arrives.
	cseq := caller.inDialog("BYE", "")
	if bye := g.trunk.expectFinal(caller.callID, cseq, "BYE", 5*time.Second); bye.StatusCode != 200 {
		t.Fatalf("BYE got %s, want 200", describe(bye))
	}
	caller.ack("")
	expectAckThenBye(t, g, callee)
	rec := expectClean(t, g)
	if rec.Outcome != store.OutcomeAnswered || rec.HangupCause != "normal_clearing" || rec.HangupSide != "caller" || rec.SIPCode != 200 {
		t.Errorf("record outcome %q cause %q side %q sip_code %d; the caller got 200 and hung up: want answered/normal_clearing/caller/200",
			rec.Outcome, rec.HangupCause, rec.HangupSide, rec.SIPCode)
	}
}
