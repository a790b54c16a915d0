package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"switchboard/media"
)

// Tone levels of the browser tests: the SIP side sends 1 kHz at -10 dBFS;
// the browser's fake microphone sends 440 Hz at -6 dBFS, so anything below
// -30 dBFS at 440 Hz on the SIP side is not the browser's tone.
const (
	sipToneFreq    = 1000.0
	sipToneDBFS    = -10.0
	minBrowserDBFS = -30.0
)

// TestBrowserAnswerInbound is the softphone's everyday call: a trunk caller
// known as a contact rings Alice's tab, the page shows who it is, Alice
// answers, audio flows both ways (proven by frequency), the caller hangs up
// and the record says answered, through a WebRTC leg, with the caller ID.
func TestBrowserAnswerInbound(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	g, page, ctx, callerRTP, done := ringAvailableTab(t, browserGatewayOptions(""))

	page.waitJS("the call rings", `window.switchboard.state === "incoming"`, 10*time.Second)
	card := page.text("dialog", "Incoming call", 5*time.Second)
	t.Logf("incoming card: %q", card)
	for _, want := range []string{"Jan Kowalski", "Acme", "Acme renewal", "$12,000"} {
		if !strings.Contains(card, want) {
			t.Errorf("incoming card does not show %q: %q", want, card)
		}
	}
	page.click("button", "Answer")

	res := awaitCall(t, done, 15*time.Second)
	if res.err != nil {
		t.Fatalf("the call was not answered: %v\n%s", res.err, page.snapshot())
	}
	dlg := res.dlg
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	defer callerRTP.playTone(ctx, t, answer.Addr, media.PayloadPCMU, sipToneFreq, sipToneDBFS)()

	page.waitJS("the call is answered", `window.switchboard.state === "answered"`, 10*time.Second)
	readings := page.waitPageTone(sipToneFreq, browserPageFreqTo, 15*time.Second)
	t.Logf("the page hears the SIP side's tone: analyser peaks %v Hz", readings)
	heard := waitHeardTone(t, callerRTP, browserToneFreq, minBrowserDBFS, 15*time.Second)
	t.Logf("the SIP side hears the browser: %.0f Hz, %.1f dBFS", heard.Freq, heard.Level)

	byeCtx, byeCancel := context.WithTimeout(ctx, 10*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	page.waitJS("the page is idle after the caller hung up", `window.switchboard.state === "idle"`, 10*time.Second)

	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Trunk: "carrier",
		Outcome: "answered", HangupCause: "normal_clearing", HangupSide: "caller",
	})
	if !rec.hasLegKind("webrtc") {
		t.Errorf("call record has no webrtc leg: %+v", rec.Legs)
	}
	if rec.CallerID != nil {
		t.Logf("call record caller_id: %+v", *rec.CallerID)
	}
	switch {
	case rec.CallerID == nil:
		t.Errorf("call record has no caller_id, want Jan Kowalski")
	case rec.CallerID.Name != "Jan Kowalski" || rec.CallerID.Company != "Acme":
		t.Errorf("call record caller_id = %+v, want Jan Kowalski of Acme", *rec.CallerID)
	}
}

// TestBrowserTwoTabs: both of Alice's tabs ring; the one that answers gets
// the call and the other stops ringing, told it was answered elsewhere.
func TestBrowserTwoTabs(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	g := startGateway(t, browserGatewayOptions(""))
	b := startBrowser(t)
	tab1 := b.newPage("tab1")
	tab2 := b.newPage("tab2")
	tab1.signIn(g.httpBase, aliceToken)
	tab1.setAvailable()
	tab2.signIn(g.httpBase, aliceToken)
	// Presence is the user's, not the tab's: the second tab inherits it.
	tab2.waitJS("the second tab shows Alice available", `window.switchboard.presence === "available"`, 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	caller := newGoCaller(t)
	callerRTP := newRTPPeer(t)
	done := placeCall(ctx, caller, g.sipAddr, audioSDP(callerRTP.port(), media.PayloadPCMU))

	for _, tab := range []*browserPage{tab1, tab2} {
		tab.waitJS("the call rings", `window.switchboard.state === "incoming"`, 10*time.Second)
	}
	tab1.click("button", "Answer")

	tab2.waitJS("the second tab stops ringing",
		`window.switchboard.state === "idle" && document.querySelectorAll('#incoming-list [role=dialog]').length === 0`,
		10*time.Second)
	notice, err := evalJS[string](tab2, `document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent`)
	if err != nil || !strings.Contains(notice, "another device") {
		t.Errorf("the second tab's notice is %q (%v), want it to say the call was answered on another device", notice, err)
	}

	res := awaitCall(t, done, 15*time.Second)
	if res.err != nil {
		t.Fatalf("the call was not answered: %v\n%s", res.err, tab1.snapshot())
	}
	tab1.waitJS("the first tab is in the call", `window.switchboard.state === "answered"`, 10*time.Second)
	if s := tab2.state(); s != "idle" {
		t.Errorf("the second tab is %q while the first talks, want idle", s)
	}

	byeCtx, byeCancel := context.WithTimeout(ctx, 10*time.Second)
	defer byeCancel()
	if err := res.dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	tab1.waitJS("the first tab is idle after the caller hung up", `window.switchboard.state === "idle"`, 10*time.Second)
	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Outcome: "answered", HangupCause: "normal_clearing",
	})
}

// TestBrowserDecline: Alice declines; the caller gets a final 603 Decline
// (RFC 3261 §21.6.2) and the call is recorded as missed, rejected.
func TestBrowserDecline(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	g, page, ctx, _, done := ringAvailableTab(t, browserGatewayOptions(""))

	page.waitJS("the call rings", `window.switchboard.state === "incoming"`, 10*time.Second)
	page.click("button", "Decline")

	res := awaitCall(t, done, 15*time.Second)
	if res.err == nil {
		_ = res.dlg.Bye(ctx)
		t.Fatalf("the declined call was answered")
	}
	if code := finalStatus(res.err); code != 603 {
		t.Errorf("the caller's final response: %d (%v), want 603", code, res.err)
	}
	page.waitJS("the page is idle after declining", `window.switchboard.state === "idle"`, 10*time.Second)

	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Trunk: "carrier",
		Outcome: "missed", HangupCause: "call_rejected", SIPCode: 603,
	})
}

// TestBrowserOutbound: Alice dials out from the page with her number as the
// caller ID; the trunk side sees the right From and To, audio flows both
// ways, and Alice hangs up.
func TestBrowserOutbound(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	callee, invites := newRecordingCallee(t, media.PayloadPCMU, sipToneFreq, sipToneDBFS)
	g := startGateway(t, browserGatewayOptions(callee.addr()))
	b := startBrowser(t)
	page := b.newPage("tab")
	page.signIn(g.httpBase, aliceToken)

	page.typeInto("textbox", "Number", forwardNumber)
	page.choose("combobox", "Caller ID", ourNumber)
	page.click("button", "Call")

	select {
	case <-callee.answered:
	case <-time.After(15 * time.Second):
		t.Fatalf("the callee never answered: invites %+v, problems %v\n%s", invites.all(), callee.problems(), page.snapshot())
	}
	seen := invites.all()
	if len(seen) != 1 {
		t.Fatalf("the callee got %d INVITEs, want 1: %+v", len(seen), seen)
	}
	if seen[0].FromUser != ourNumber || seen[0].ToUser != forwardNumber || seen[0].RequestUser != forwardNumber {
		t.Errorf("INVITE From user %q, To user %q, Request-URI user %q; want From %s, To and Request-URI %s",
			seen[0].FromUser, seen[0].ToUser, seen[0].RequestUser, ourNumber, forwardNumber)
	}

	page.waitJS("the call is answered", `window.switchboard.state === "answered"`, 10*time.Second)
	readings := page.waitPageTone(sipToneFreq, browserPageFreqTo, 15*time.Second)
	t.Logf("the page hears the callee's tone: analyser peaks %v Hz", readings)
	heard := waitHeardTone(t, callee.rtp, browserToneFreq, minBrowserDBFS, 15*time.Second)
	t.Logf("the callee hears the browser: %.0f Hz, %.1f dBFS", heard.Freq, heard.Level)

	page.click("button", "Hang up")
	select {
	case <-callee.byeGot:
	case <-time.After(10 * time.Second):
		t.Fatalf("the callee never got a BYE after Hang up\n%s", page.snapshot())
	}
	page.waitJS("the page is idle after hanging up", `window.switchboard.state === "idle"`, 10*time.Second)
	for _, err := range callee.problems() {
		t.Errorf("callee: %v", err)
	}

	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "outbound", Number: ourNumber, Callee: forwardNumber, Trunk: "carrier",
		Outcome: "answered", HangupCause: "normal_clearing", HangupSide: "caller",
	})
	if !rec.hasLegKind("webrtc") {
		t.Errorf("call record has no webrtc leg: %+v", rec.Legs)
	}
}
