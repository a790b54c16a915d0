package sip_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/store"
)

// TestGatewayLateOffer runs a whole call whose INVITE carries no SDP
// (RFC 3261 §13.2.1, RFC 3264): the gateway offers in its 200, takes the
// caller's answer from the ACK, and media then crosses the bridge both ways
// until the caller hangs up.
func TestGatewayLateOffer(t *testing.T) {
	g := startGateway(t, gwOptions{})
	callerRTP, calleeRTP := newRTPPeer(t), newRTPPeer(t)

	caller := g.trunk.newUAC(g.addr, ourNumber)
	caller.sendInvite("")

	// The carrier leg gets an early offer from us whatever the caller did.
	callee := g.callee.expectInvite(5 * time.Second)
	if got := callee.invite.Recipient.User; got != forwardTo {
		t.Errorf("INVITE toward the carrier is for %q, want %q", got, forwardTo)
	}
	gwB := parseAudio(t, callee.invite.Body())
	if len(gwB.Formats) == 0 || gwB.Formats[0] != "0" {
		t.Errorf("offer to the callee has formats %v, want PCMU first", gwB.Formats)
	}
	callee.respond(200, sdpOffer(calleeRTP.port, "sendrecv", 0))
	g.callee.wait(5*time.Second, "ACK of the callee's 200", isRequest("ACK", callee.callID()))

	res := caller.inviteFinal(5 * time.Second)
	if res.StatusCode != 200 {
		t.Fatalf("caller got %s, want 200", describe(res))
	}
	if ct := header(res, "Content-Type"); !strings.HasPrefix(ct, "application/sdp") {
		t.Fatalf("200 to a late-offer INVITE has Content-Type %q, want application/sdp with our offer", ct)
	}
	offer := parseAudio(t, res.Body())
	for _, want := range []string{"0", "8", "101"} {
		if !slices.Contains(offer.Formats, want) {
			t.Errorf("offer in the 200 lists formats %v, lacks %s", offer.Formats, want)
		}
	}
	maps := strings.Join(offer.Rtpmaps, "|")
	for _, want := range []string{"0 PCMU/8000", "8 PCMA/8000", "101 telephone-event/8000"} {
		if !strings.Contains(maps, want) {
			t.Errorf("offer rtpmaps %v lack %q", offer.Rtpmaps, want)
		}
	}
	if offer.Dir != "sendrecv" {
		t.Errorf("offer direction %s, want sendrecv", offer.Dir)
	}
	if !offer.Addr.Addr().IsLoopback() || offer.Addr.Port() == 0 {
		t.Fatalf("offer RTP address %v is not a usable loopback address", offer.Addr)
	}

	caller.ack(sdpOffer(callerRTP.port, "sendrecv", 0))

	pkt := callerRTP.flowsTo(offer.Addr, calleeRTP, 3*time.Second)
	if pkt.PayloadType != 0 {
		t.Errorf("caller->callee RTP arrived with payload type %d, want 0 (PCMU)", pkt.PayloadType)
	}
	pkt = calleeRTP.flowsTo(gwB.Addr, callerRTP, 3*time.Second)
	if pkt.PayloadType != 0 {
		t.Errorf("callee->caller RTP arrived with payload type %d, want 0 (PCMU)", pkt.PayloadType)
	}

	g.hangupFromCaller(t, &established{caller: caller, callee: callee})

	rec := g.lastCall(t)
	if rec.Outcome != store.OutcomeAnswered || rec.HangupCause != "normal_clearing" || rec.HangupSide != "caller" {
		t.Errorf("record: outcome %q cause %q side %q, want answered/normal_clearing/caller", rec.Outcome, rec.HangupCause, rec.HangupSide)
	}
	if len(rec.Legs) != 2 || rec.Legs[0].Codec != "PCMU" || rec.Legs[1].Codec != "PCMU" {
		t.Errorf("record legs %+v, want caller and callee both PCMU", rec.Legs)
	}
}
