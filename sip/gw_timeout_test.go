package sip_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/store"
)

// TestGatewayRTPTimeout checks that an answered call in which nobody sends
// RTP is torn down: both legs get a BYE whose Reason (RFC 3326) carries
// Q.850 cause 102 (recovery on timer expiry), and the record says why.
func TestGatewayRTPTimeout(t *testing.T) {
	const timeout = 2 * time.Second
	g := startGateway(t, gwOptions{RTPTimeout: timeout})
	g.trunk.autoRespond("BYE", 200)
	g.callee.autoRespond("BYE", 200)
	e := g.establish(t)
	answered := time.Now()

	for _, side := range []struct {
		name   string
		p      *peer
		callID string
	}{
		{"callee", g.callee, e.callee.callID()},
		{"caller", g.trunk, e.caller.callID},
	} {
		r := side.p.wait(timeout+3*time.Second, "BYE to the "+side.name, isRequest("BYE", side.callID))
		if early := r.at.Sub(answered); early < timeout-200*time.Millisecond {
			t.Errorf("BYE to the %s after %v of silence, before the %v RTP timeout", side.name, early, timeout)
		}
		bye := r.msg.(*sip.Request)
		reason := header(bye, "Reason")
		if !strings.HasPrefix(reason, "Q.850") || !strings.Contains(reason, "cause=102") {
			t.Errorf("BYE to the %s has Reason %q, want Q.850;cause=102", side.name, reason)
		}
	}

	rec := g.lastCall(t)
	if rec.Outcome != store.OutcomeAnswered || rec.HangupCause != "rtp_timeout" || rec.HangupSide != "system" {
		t.Errorf("record: outcome %q cause %q side %q, want answered/rtp_timeout/system", rec.Outcome, rec.HangupCause, rec.HangupSide)
	}
	eventually(t, 5*time.Second, "engine has no active call", func() bool { return g.engine.Active() == 0 })
}

// TestGatewayRingTimeout checks an unanswered forward: after the ring timeout
// the gateway CANCELs the callee (RFC 3261 §9.1: same branch, Call-ID and
// CSeq number as the INVITE), ACKs its 487, and answers the caller 480.
func TestGatewayRingTimeout(t *testing.T) {
	const ring = 2 * time.Second
	g := startGateway(t, gwOptions{RingTimeout: ring})
	callerRTP := newRTPPeer(t)
	caller := g.trunk.newUAC(g.addr, ourNumber)
	caller.sendInvite(sdpOffer(callerRTP.port, "sendrecv", 0, 101))
	callee := g.callee.expectInvite(5 * time.Second)
	callee.respond(180, "")
	ringing := time.Now()
	g.trunk.wait(5*time.Second, "180 relayed to the caller",
		isResponse(caller.callID, caller.invite.CSeq, "INVITE", func(c int) bool { return c == 180 }))

	cancel, _ := g.callee.expectRequest("CANCEL", ring+3*time.Second)
	if d := time.Since(ringing); d < ring-200*time.Millisecond {
		t.Errorf("CANCEL after %v of ringing, before the %v ring timeout", d, ring)
	}
	if cancel.CallID().Value() != callee.callID() {
		t.Fatalf("CANCEL Call-ID %q, INVITE had %q", cancel.CallID().Value(), callee.callID())
	}
	if cancel.CSeq().SeqNo != callee.invite.CSeq().SeqNo {
		t.Errorf("CANCEL CSeq %d, INVITE had %d", cancel.CSeq().SeqNo, callee.invite.CSeq().SeqNo)
	}
	cb, _ := cancel.Via().Params.Get("branch")
	ib, _ := callee.invite.Via().Params.Get("branch")
	if cb != ib {
		t.Errorf("CANCEL branch %q, INVITE had %q", cb, ib)
	}
	if cancel.Recipient.String() != callee.invite.Recipient.String() {
		t.Errorf("CANCEL Request-URI %s, INVITE had %s", cancel.Recipient.String(), callee.invite.Recipient.String())
	}
	g.callee.send(responseText(cancel, 200, "", callee.toTag, nil, ""), callee.src)
	callee.respond(487, "")
	ack := g.callee.wait(5*time.Second, "ACK of the 487", isRequest("ACK", callee.callID())).msg.(*sip.Request)
	if ab, _ := ack.Via().Params.Get("branch"); ab != ib {
		t.Errorf("ACK of the 487 has branch %q, want the INVITE's %q (RFC 3261 §17.1.1.3)", ab, ib)
	}

	res := caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 480 {
		t.Fatalf("caller got %s, want 480", describe(res))
	}
	caller.ackFailure()

	rec := g.lastCall(t)
	if rec.Outcome != store.OutcomeMissed || rec.HangupCause != "no_answer" {
		t.Errorf("record: outcome %q cause %q, want missed/no_answer", rec.Outcome, rec.HangupCause)
	}
	if rec.SIPCode != 480 {
		t.Errorf("record sip_code %d, want 480", rec.SIPCode)
	}
	eventually(t, 5*time.Second, "engine has no active call", func() bool { return g.engine.Active() == 0 })
}
