package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media"
)

// This file covers the ringing rules of the browser issue (first answer wins
// across browser and forward phone, nobody available, ring timeout) and
// early media on calls placed from the page.

// supportLineOptions is browserGatewayOptions with +15550100 rung by ringing
// ("browser" or "both"; with "both" it also forwards to +15550199) for at
// most ringTimeout.
func supportLineOptions(proxy, ringing string, ringTimeout time.Duration) gatewayOptions {
	o := browserGatewayOptions(proxy)
	forward := ""
	if ringing == "both" {
		forward = fmt.Sprintf(", forward_to: %q", forwardNumber)
	}
	o.Numbers = fmt.Sprintf("  - { number: %q, name: \"Support line\", trunk: carrier, owner: alice, ringing: %s%s, ring_timeout: %s }\n",
		ourNumber, ringing, forward, ringTimeout)
	return o
}

// gatedCallee is a trunk-side phone (it stands as the trunk's outbound
// proxy) that rings and answers only when the test releases it: the test
// decides who wins a race by an event, not by a delay. It rings with 180,
// or with 183 Session Progress carrying SDP and a tone as early media
// (RFC 3960 §3), and notes a CANCEL of its INVITE.
type gatedCallee struct {
	calleeBase
	rtp     *rtpPeer
	early   bool          // ring with 183 + SDP and play the tone before the 200
	release chan struct{} // closed by the test: answer now

	invites    int
	sent200    bool
	cancelErr  error         // the INVITE transaction's error after the CANCEL
	ringing    chan struct{} // closed once the 180/183 went out
	cancelled  chan struct{} // closed when a CANCEL for the INVITE arrived
	answered   chan struct{} // closed when our 200 was ACKed
	sending    sync.WaitGroup
	toneCtx    context.Context
	toneCancel context.CancelFunc
}

// newGatedCallee starts a gatedCallee playing sipToneFreq at sipToneDBFS
// in PCMU once it answers (or from its 183 when early is set).
func newGatedCallee(t *testing.T, early bool) *gatedCallee {
	t.Helper()
	c := &gatedCallee{
		rtp:       newRTPPeer(t),
		early:     early,
		release:   make(chan struct{}),
		ringing:   make(chan struct{}),
		cancelled: make(chan struct{}),
		answered:  make(chan struct{}),
	}
	c.toneCtx, c.toneCancel = context.WithCancel(context.Background())
	c.startAgent(t, c.onInvite)
	t.Cleanup(func() {
		c.toneCancel()
		c.sending.Wait()
	})
	return c
}

// answerNow lets the callee send its 200 OK.
func (c *gatedCallee) answerNow() { c.once(c.release) }

// status reports how many INVITEs arrived, whether a 200 was sent and the
// INVITE transaction's error after a CANCEL.
func (c *gatedCallee) status() (invites int, sent200 bool, cancelErr error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invites, c.sent200, c.cancelErr
}

// playTone sends the callee's tone toward the gateway until the test ends.
func (c *gatedCallee) playTone(to remoteAudio) {
	c.sending.Add(1)
	go func() {
		defer c.sending.Done()
		if err := c.rtp.sendTone(c.toneCtx, to.Addr, media.PayloadPCMU, sipToneFreq, sipToneDBFS); err != nil {
			c.fail(fmt.Errorf("callee: %w", err))
		}
	}()
}

// onInvite rings, then waits for the test's release (answer with PCMU), a
// CANCEL, or the end of the test. It stays in the handler for the dialog's
// life, as sipgo requires.
func (c *gatedCallee) onInvite(dialogs *sipgo.DialogServerCache, req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	c.invites++
	c.mu.Unlock()
	// sipgo's transaction layer answers a CANCEL 200 OK and then the INVITE
	// 487 Request Terminated itself (RFC 3261 §9.2); OnCancel tells us it
	// happened. The callback runs under the transaction's lock, so it only
	// signals.
	gotCancel := make(chan struct{})
	var cancelOnce sync.Once
	signal := func() { cancelOnce.Do(func() { close(gotCancel) }) }
	if !tx.OnCancel(func(*sip.Request) { signal() }) {
		signal() // cancelled before we could listen
	}
	dlg, err := dialogs.ReadInvite(req, tx)
	if err != nil {
		c.fail(fmt.Errorf("callee: INVITE: %w", err))
		return
	}
	defer dlg.Close()
	offer, err := parseAudioSDP(req.Body())
	if err != nil {
		c.fail(fmt.Errorf("callee: offer: %w", err))
		_ = dlg.Respond(400, "Bad SDP", nil)
		return
	}
	answer := audioSDP(c.rtp.port(), media.PayloadPCMU)
	toneStarted := false
	if c.early {
		if err := dlg.Respond(183, "Session Progress", answer, sip.NewHeader("Content-Type", "application/sdp")); err != nil {
			c.fail(fmt.Errorf("callee: 183: %w", err))
			return
		}
		c.playTone(offer)
		toneStarted = true
	} else if err := dlg.Respond(180, "Ringing", nil); err != nil {
		c.fail(fmt.Errorf("callee: 180: %w", err))
		return
	}
	c.once(c.ringing)

	select {
	case <-gotCancel:
		// Err takes the transaction's lock, so it returns once the CANCEL's
		// transition (and with it the 487) is done.
		err := tx.Err()
		c.mu.Lock()
		c.cancelErr = err
		c.mu.Unlock()
		c.once(c.cancelled)
		return
	case <-c.toneCtx.Done():
		return
	case <-c.release:
	}
	c.mu.Lock()
	c.sent200 = true
	c.mu.Unlock()
	// RespondSDP returns once the ACK for the 200 arrived (RFC 3261 §13.3.1.4).
	// The 200 repeats the 183's SDP: it is the same answer (RFC 3261 §13.2.1).
	if err := dlg.RespondSDP(answer); err != nil {
		c.fail(fmt.Errorf("callee: 200: %w", err))
		return
	}
	c.once(c.answered)
	if !toneStarted {
		c.playTone(offer)
	}
	select {
	case <-dlg.Context().Done():
	case <-c.toneCtx.Done():
	}
}

// waitClosed waits for ch to be closed and fails the test with what
// otherwise.
func waitClosed(t *testing.T, ch <-chan struct{}, within time.Duration, what string, detail func() string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(within):
		t.Fatalf("%s: not within %s\n%s", what, within, detail())
	}
}

// legKinds lists the kinds of a record's legs.
func legKinds(r browserCallRecord) []string {
	out := make([]string, len(r.Legs))
	for i, l := range r.Legs {
		out[i] = l.Kind
	}
	return out
}

// TestBrowserBothFirstAnswerWins: with `ringing: both` the browser and the
// forward phone ring at once and whoever answers first takes the call; the
// other is cancelled (a CANCEL to the phone, RFC 3261 §9.1; "answered
// elsewhere" to the page).
func TestBrowserBothFirstAnswerWins(t *testing.T) {
	t.Run("browser_answers", func(t *testing.T) {
		if !insideBrowserNetns(t) {
			return
		}
		callee := newGatedCallee(t, false)
		g, page, ctx, callerRTP, done := ringAvailableTab(t, supportLineOptions(callee.addr(), "both", 20*time.Second))

		// Both devices ring before the page answers.
		page.waitJS("the call rings in the page", `window.switchboard.state === "incoming"`, 10*time.Second)
		waitClosed(t, callee.ringing, 10*time.Second, "the forward phone rings", page.snapshot)
		page.click("button", "Answer")

		res := awaitCall(t, done, 15*time.Second)
		if res.err != nil {
			t.Fatalf("the call was not answered: %v\n%s", res.err, page.snapshot())
		}
		waitClosed(t, callee.cancelled, 10*time.Second, "the forward phone gets a CANCEL after the page answered", func() string {
			n, sent200, _ := callee.status()
			return fmt.Sprintf("callee: %d INVITEs, sent 200: %v, problems %v", n, sent200, callee.problems())
		})
		invites, sent200, cancelErr := callee.status()
		if invites != 1 || sent200 {
			t.Errorf("the forward phone got %d INVITEs and sent 200: %v; want 1 INVITE, no 200", invites, sent200)
		}
		if !errors.Is(cancelErr, sip.ErrTransactionCanceled) {
			t.Errorf("the forward phone's INVITE transaction ended with %v, want %v (200 to the CANCEL, 487 to the INVITE)",
				cancelErr, sip.ErrTransactionCanceled)
		}

		answer, err := parseAudioSDP(res.dlg.InviteResponse.Body())
		if err != nil {
			t.Fatalf("gateway's answer: %v\n%s", err, res.dlg.InviteResponse.Body())
		}
		defer callerRTP.playTone(ctx, t, answer.Addr, media.PayloadPCMU, sipToneFreq, sipToneDBFS)()
		page.waitJS("the call is answered in the page", `window.switchboard.state === "answered"`, 10*time.Second)
		readings := page.waitPageTone(sipToneFreq, browserPageFreqTo, 15*time.Second)
		t.Logf("the page hears the caller's tone: analyser peaks %v Hz", readings)

		byeCtx, byeCancel := context.WithTimeout(ctx, 10*time.Second)
		defer byeCancel()
		if err := res.dlg.Bye(byeCtx); err != nil {
			t.Errorf("caller's BYE: %v", err)
		}
		page.waitJS("the page is idle after the caller hung up", `window.switchboard.state === "idle"`, 10*time.Second)
		for _, err := range callee.problems() {
			t.Errorf("forward phone: %v", err)
		}

		rec := g.endedBrowserCall(t, 10*time.Second)
		checkRecord(t, rec.callRecord, callRecord{
			Direction: "inbound", Number: ourNumber, Caller: callerNumber, Trunk: "carrier",
			Outcome: "answered", HangupCause: "normal_clearing", HangupSide: "caller",
		})
		if !rec.hasLegKind("webrtc") {
			t.Errorf("call record has no webrtc leg: %+v", rec.Legs)
		}
		if rec.Callee == forwardNumber {
			t.Errorf("call record callee is the forward number %s, but the browser answered", rec.Callee)
		}
	})

	t.Run("forward_answers", func(t *testing.T) {
		if !insideBrowserNetns(t) {
			return
		}
		callee := newGatedCallee(t, false)
		g, page, ctx, callerRTP, done := ringAvailableTab(t, supportLineOptions(callee.addr(), "both", 20*time.Second))

		page.waitJS("the call rings in the page", `window.switchboard.state === "incoming"`, 10*time.Second)
		waitClosed(t, callee.ringing, 10*time.Second, "the forward phone rings", page.snapshot)
		// The phone picks up while the page is still ringing.
		callee.answerNow()
		waitClosed(t, callee.answered, 10*time.Second, "the forward phone's 200 is ACKed", func() string {
			return fmt.Sprintf("callee problems %v\n%s", callee.problems(), page.snapshot())
		})
		res := awaitCall(t, done, 15*time.Second)
		if res.err != nil {
			t.Fatalf("the call was not answered: %v\n%s", res.err, page.snapshot())
		}

		page.waitJS("the page stops ringing",
			`window.switchboard.state === "idle" && document.querySelectorAll('#incoming-list [role=dialog]').length === 0`,
			10*time.Second)
		notice, err := evalJS[string](page, `document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent`)
		if err != nil || !strings.Contains(notice, "another device") {
			t.Errorf("the page's notice is %q (%v), want it to say the call was answered on another device", notice, err)
		}

		// The caller and the phone talk through the gateway.
		answer, err := parseAudioSDP(res.dlg.InviteResponse.Body())
		if err != nil {
			t.Fatalf("gateway's answer: %v\n%s", err, res.dlg.InviteResponse.Body())
		}
		heard := waitHeardTone(t, callerRTP, sipToneFreq, sipToneDBFS-10, 10*time.Second)
		t.Logf("the caller hears the forward phone: %.0f Hz, %.1f dBFS (gateway at %s)", heard.Freq, heard.Level, answer.Addr)
		if s := page.state(); s != "idle" {
			t.Errorf("the page is %q while the forward phone talks, want idle", s)
		}

		byeCtx, byeCancel := context.WithTimeout(ctx, 10*time.Second)
		defer byeCancel()
		if err := res.dlg.Bye(byeCtx); err != nil {
			t.Errorf("caller's BYE: %v", err)
		}
		waitClosed(t, callee.byeGot, 10*time.Second, "the forward phone gets a BYE after the caller hung up", page.snapshot)
		for _, err := range callee.problems() {
			t.Errorf("forward phone: %v", err)
		}

		rec := g.endedBrowserCall(t, 10*time.Second)
		checkRecord(t, rec.callRecord, callRecord{
			Direction: "inbound", Number: ourNumber, Caller: callerNumber, Callee: forwardNumber, Trunk: "carrier",
			Outcome: "answered", HangupCause: "normal_clearing", HangupSide: "caller",
		})
		kinds := legKinds(rec)
		if len(kinds) < 2 {
			t.Errorf("call record legs %v, want the caller's and the forward phone's", kinds)
		}
		for _, k := range kinds {
			if k != "sip" {
				t.Errorf("call record legs %v, want only sip legs (the browser never answered)", kinds)
				break
			}
		}
	})
}

// TestBrowserNobodyAvailable: Alice is signed in but away (a tab's first
// state); a `ringing: browser` call finds nobody to ring, so the caller gets
// 480 Temporarily Unavailable (RFC 3261 §21.4.18) and the page never rings.
func TestBrowserNobodyAvailable(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	g := startGateway(t, supportLineOptions("", "browser", 20*time.Second))
	b := startBrowser(t)
	page := b.newPage("tab")
	page.signIn(g.httpBase, aliceToken)
	page.waitJS("Alice starts away", `window.switchboard.presence === "away"`, 5*time.Second)
	// Note any incoming card the page ever shows, however briefly.
	if ok, err := evalJS[bool](page, `(() => {
		window.__sawIncoming = false;
		const list = document.getElementById('incoming-list');
		new MutationObserver((records) => {
			if (records.some((r) => r.addedNodes.length > 0)) window.__sawIncoming = true;
		}).observe(list, { childList: true, subtree: true });
		return true;
	})()`); err != nil || !ok {
		t.Fatalf("installing the incoming-card observer: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller := newGoCaller(t)
	callerRTP := newRTPPeer(t)
	started := time.Now()
	res := awaitCall(t, placeCall(ctx, caller, g.sipAddr, audioSDP(callerRTP.port(), media.PayloadPCMU)), 10*time.Second)
	if res.err == nil {
		_ = res.dlg.Bye(ctx)
		t.Fatalf("the call was answered with nobody available")
	}
	if code := finalStatus(res.err); code != 480 {
		t.Errorf("the caller's final response: %d (%v), want 480", code, res.err)
	}
	// Nobody to ring is known at once: no waiting for the 20 s ring timeout.
	if took := time.Since(started); took > 5*time.Second {
		t.Errorf("the 480 took %s; with nobody available it should come at once", took)
	}

	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Trunk: "carrier",
		Outcome: "missed", HangupCause: "temporarily_unavailable",
	})
	if s := page.state(); s != "idle" {
		t.Errorf("the page is %q, want idle", s)
	}
	if saw, err := evalJS[bool](page, `window.__sawIncoming`); err != nil || saw {
		t.Errorf("the page showed an incoming card while Alice was away (observer: %v, %v)\n%s", saw, err, page.snapshot())
	}
}

// TestBrowserRingTimeout: Alice is available but nobody clicks Answer; after
// the number's ring_timeout the caller gets 480, the page's card goes away
// with a missed-call notice, and the call is recorded missed, no_answer.
func TestBrowserRingTimeout(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	const ringTimeout = 3 * time.Second
	g := startGateway(t, supportLineOptions("", "browser", ringTimeout))
	b := startBrowser(t)
	page := b.newPage("tab")
	page.signIn(g.httpBase, aliceToken)
	page.setAvailable()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller := newGoCaller(t)
	callerRTP := newRTPPeer(t)
	started := time.Now()
	done := placeCall(ctx, caller, g.sipAddr, audioSDP(callerRTP.port(), media.PayloadPCMU))
	page.waitJS("the call rings", `window.switchboard.state === "incoming"`, 10*time.Second)

	res := awaitCall(t, done, ringTimeout+10*time.Second)
	took := time.Since(started)
	if res.err == nil {
		_ = res.dlg.Bye(ctx)
		t.Fatalf("the call was answered though nobody clicked Answer")
	}
	if code := finalStatus(res.err); code != 480 {
		t.Errorf("the caller's final response: %d (%v), want 480", code, res.err)
	}
	if took < ringTimeout-200*time.Millisecond || took > ringTimeout+3*time.Second {
		t.Errorf("the 480 came after %s, want about the ring timeout of %s", took, ringTimeout)
	}

	page.waitJS("the page stops ringing",
		`window.switchboard.state === "idle" && document.querySelectorAll('#incoming-list [role=dialog]').length === 0`,
		5*time.Second)
	notice, err := evalJS[string](page, `document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent`)
	if err != nil || !strings.Contains(notice, "Missed call from Jan Kowalski") {
		t.Errorf("the page's notice is %q (%v), want a missed call from Jan Kowalski", notice, err)
	}

	rec := g.endedBrowserCall(t, 10*time.Second)
	checkRecord(t, rec.callRecord, callRecord{
		Direction: "inbound", Number: ourNumber, Caller: callerNumber, Trunk: "carrier",
		Outcome: "missed", HangupCause: "no_answer", HangupSide: "system",
	})
	if rec.EndedAt != nil {
		if rang := rec.EndedAt.Sub(rec.StartedAt); rang < ringTimeout-200*time.Millisecond || rang > ringTimeout+3*time.Second {
			t.Errorf("the record rang for %s, want about %s", rang, ringTimeout)
		}
	}
}

// TestBrowserOutboundEarlyMedia: the far end of a call from the page sends
// 183 Session Progress with SDP and plays ringback before it answers; the
// page shows early media and hears the ringback before the 200 OK.
func TestBrowserOutboundEarlyMedia(t *testing.T) {
	if !insideBrowserNetns(t) {
		return
	}
	callee := newGatedCallee(t, true)
	g := startGateway(t, browserGatewayOptions(callee.addr()))
	b := startBrowser(t)
	page := b.newPage("tab")
	page.signIn(g.httpBase, aliceToken)

	page.typeInto("textbox", "Number", forwardNumber)
	page.choose("combobox", "Caller ID", ourNumber)
	page.click("button", "Call")

	waitClosed(t, callee.ringing, 15*time.Second, "the callee sends 183 with SDP", func() string {
		return fmt.Sprintf("callee problems %v\n%s", callee.problems(), page.snapshot())
	})
	page.waitJS("the page shows early media", `window.switchboard.state === "early_media"`, 10*time.Second)
	readings := page.waitPageTone(sipToneFreq, browserPageFreqTo, 15*time.Second)
	t.Logf("the page hears the ringback before the answer: analyser peaks %v Hz", readings)
	if _, sent200, _ := callee.status(); sent200 {
		t.Fatalf("the callee sent 200 before the page heard the ringback")
	}
	if s := page.state(); s != "early_media" {
		t.Errorf("the page is %q while the far end has not answered, want early_media", s)
	}

	callee.answerNow()
	waitClosed(t, callee.answered, 10*time.Second, "the callee's 200 is ACKed", func() string {
		return fmt.Sprintf("callee problems %v\n%s", callee.problems(), page.snapshot())
	})
	page.waitJS("the call is answered", `window.switchboard.state === "answered"`, 10*time.Second)
	heard := waitHeardTone(t, callee.rtp, browserToneFreq, minBrowserDBFS, 15*time.Second)
	t.Logf("the callee hears the browser: %.0f Hz, %.1f dBFS", heard.Freq, heard.Level)

	page.click("button", "Hang up")
	waitClosed(t, callee.byeGot, 10*time.Second, "the callee gets a BYE after Hang up", page.snapshot)
	page.waitJS("the page is idle after hanging up", `window.switchboard.state === "idle"`, 10*time.Second)
	if n, _, _ := callee.status(); n != 1 {
		t.Errorf("the callee got %d INVITEs, want 1", n)
	}
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
