package e2e

// End-to-end tests of per-number routing (issue 5) with Go user agents:
// working hours send a call to the after-hours action (voicemail with the
// after-hours greeting, or the closed announcement and 480) without
// ringing anything, in hours the forward target rings, call screening
// makes the forwarded phone press 1 before the caller is connected, and
// the simulate API shows the plan without placing a call.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media"
)

// rtZone is the working hours' time zone in these tests. Hours are chosen
// relative to the real clock in this zone, so the tests do not depend on
// when they run.
const rtZone = "Europe/Warsaw"

// rtNumberName is +15550100's name: it appears in the route trace and in
// the screening prompt.
const rtNumberName = "Support line"

// Tones of the screening tests: what the forwarded phone plays once it
// accepted, and what the caller plays once connected. Neither is near the
// ringback's 440/480 Hz.
var (
	rtCalleeTone = toneSpec{Freq: 1000, Level: -10}
	rtCallerTone = toneSpec{Freq: 700, Level: -15}
)

// rtClosedDates returns yesterday, today and tomorrow in rtZone: with all
// three closed the number is closed now even if the test runs across
// midnight.
func rtClosedDates() []string {
	loc, err := time.LoadLocation(rtZone)
	if err != nil {
		panic(err) // the zone database is part of the Go distribution
	}
	y, m, d := time.Now().In(loc).Date()
	var out []string
	for _, off := range []int{-1, 0, 1} {
		out = append(out, time.Date(y, m, d+off, 12, 0, 0, 0, loc).Format("2006-01-02"))
	}
	return out
}

// rtAlwaysOpen is working hours covering every minute of the week.
const rtAlwaysOpen = `{ timezone: "` + rtZone + `", hours: [ { days: [mon-sun], from: "00:00", to: "24:00" } ] }`

// rtClosedToday is rtAlwaysOpen with today (and the days either side) a
// closed date.
func rtClosedToday() string {
	return fmt.Sprintf(`{ timezone: %q, hours: [ { days: [mon-sun], from: "00:00", to: "24:00" } ], closed_dates: [%q, %q, %q] }`,
		rtZone, rtClosedDates()[0], rtClosedDates()[1], rtClosedDates()[2])
}

// rtNumber is gatewayOptions.Numbers for +15550100 owned by alice,
// forwarding to +15550199, with fields (a YAML flow mapping's entries)
// added: ring_timeout, working_hours and the routing keys.
func rtNumber(fields string) string {
	return fmt.Sprintf("  - { number: %q, name: %q, trunk: carrier, owner: alice, ringing: forward, forward_to: %q, %s }\n",
		ourNumber, rtNumberName, forwardNumber, fields)
}

// rtRoute returns the route trace and voicemail_id of call record id.
func (g *gateway) rtRoute(t *testing.T, id string) (route []string, voicemailID string) {
	t.Helper()
	var rec struct {
		Route       []string `json:"route"`
		VoicemailID string   `json:"voicemail_id"`
	}
	if code := g.getJSON(t, "/api/calls/"+url.PathEscape(id), &rec); code != http.StatusOK {
		t.Fatalf("GET /api/calls/%s: status %d", id, code)
	}
	t.Logf("route:\n  %s", strings.Join(rec.Route, "\n  "))
	return rec.Route, rec.VoicemailID
}

// rtExpectRoute asserts the route starts with the "call from" line and
// that, for each want, some line contains all of its substrings.
func rtExpectRoute(t *testing.T, route []string, want ...[]string) {
	t.Helper()
	first := "call from " + callerNumber + " to " + ourNumber + " (" + rtNumberName + ")"
	if len(route) == 0 || route[0] != first {
		t.Errorf("route %q does not start with %q", route, first)
	}
	for _, subs := range want {
		found := false
		for _, line := range route {
			all := true
			for _, s := range subs {
				all = all && strings.Contains(line, s)
			}
			found = found || all
		}
		if !found {
			t.Errorf("no line of the route %q contains all of %q", route, subs)
		}
	}
}

// rtCall is how a background call from a goCaller ended up: answered
// (dlg) or failed (err), the provisional responses before, and when the
// final response was in.
type rtCall struct {
	dlg      *sipgo.DialogClientSession
	progress []timedResponse
	err      error
	at       time.Time
}

// rtPlaceCall calls +15550100 from c in the background with sdpBody.
func rtPlaceCall(ctx context.Context, c *goCaller, g *gateway, sdpBody []byte) <-chan rtCall {
	done := make(chan rtCall, 1)
	go func() {
		dlg, progress, err := c.callProgress(ctx, g.sipAddr, ourNumber, sdpBody)
		done <- rtCall{dlg: dlg, progress: progress, err: err, at: time.Now()}
	}()
	return done
}

// rtAwait waits for a background call's final response.
func rtAwait(t *testing.T, done <-chan rtCall, within time.Duration) rtCall {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(within):
		t.Fatalf("the caller had no final response within %s", within)
		return rtCall{}
	}
}

// rtEventPT returns the payload type an SDP body maps to
// telephone-event/8000 (RFC 4733 §7.1.1), or -1.
func rtEventPT(body []byte) int {
	m := regexp.MustCompile(`(?m)^a=rtpmap:(\d+) telephone-event/8000`).FindSubmatch(body)
	if m == nil {
		return -1
	}
	pt, _ := strconv.Atoi(string(m[1]))
	return pt
}

// screenPhone is a forward target that answers at once, like a mobile
// whose own voicemail picks up, and records everything the gateway sends
// it with RTP headers. With press set it presses 1 (RFC 4733) once it has
// heard a second of the screening prompt, then plays rtCalleeTone.
type screenPhone struct {
	calleeBase
	peer  *voicePeer
	press bool

	invites   int
	invitedAt time.Time
	pressedAt time.Time     // when the first event packet of '1' went out
	answered  chan struct{} // closed when our 200 was ACKed
	pressed   chan struct{} // closed once the key press of '1' was sent
	handlers  sync.WaitGroup
}

// rtPromptHeard is how much of the screening prompt the phone hears before
// it presses 1: a second of speech.
const rtPromptHeard = 50

func newScreenPhone(t *testing.T, press bool) *screenPhone {
	t.Helper()
	c := &screenPhone{peer: newVoicePeer(t), press: press, answered: make(chan struct{}), pressed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.startAgent(t, func(dialogs *sipgo.DialogServerCache, req *sip.Request, tx sip.ServerTransaction) {
		c.handlers.Add(1)
		defer c.handlers.Done()
		c.onInvite(ctx, dialogs, req, tx)
	})
	t.Cleanup(func() {
		cancel()
		c.handlers.Wait()
	})
	return c
}

// onInvite answers with PCMU and telephone-event and keeps the handler
// running for the dialog's life, as sipgo requires.
func (c *screenPhone) onInvite(ctx context.Context, dialogs *sipgo.DialogServerCache, req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	c.invites++
	if c.invitedAt.IsZero() {
		c.invitedAt = time.Now()
	}
	c.mu.Unlock()
	dlg, err := dialogs.ReadInvite(req, tx)
	if err != nil {
		c.fail(fmt.Errorf("phone: INVITE: %w", err))
		return
	}
	defer dlg.Close()
	offer, err := parseAudioSDP(req.Body())
	if err != nil {
		c.fail(fmt.Errorf("phone: offer: %w", err))
		_ = dlg.Respond(400, "Bad SDP", nil)
		return
	}
	// voiceSDP answers telephone-event as dtmfPT, which is only right if
	// the offer used that number too (RFC 3264 §6.1).
	if pt := rtEventPT(req.Body()); pt != dtmfPT {
		c.fail(fmt.Errorf("phone: the gateway offered telephone-event as payload type %d, want %d:\n%s", pt, dtmfPT, req.Body()))
		_ = dlg.Respond(488, "Not Acceptable Here", nil)
		return
	}
	if err := dlg.Respond(180, "Ringing", nil); err != nil {
		c.fail(fmt.Errorf("phone: 180: %w", err))
		return
	}
	if err := dlg.RespondSDP(voiceSDP(c.peer.port())); err != nil {
		c.fail(fmt.Errorf("phone: 200: %w", err))
		return
	}
	c.peer.startTalking(offer.Addr)
	c.once(c.answered)
	if c.press {
		c.accept(ctx, dlg.Context())
	}
	select {
	case <-dlg.Context().Done():
	case <-ctx.Done():
	}
}

// accept waits for a second of the prompt, presses 1 and starts the tone.
func (c *screenPhone) accept(ctx, dlgCtx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(dlgCtx, cancel)
	defer stop()
	err := c.peer.awaitFrames(ctx, func(fs []audioFrame) bool {
		return countFrames(fs, audioFrame.speech) >= rtPromptHeard
	})
	if err != nil {
		c.fail(fmt.Errorf("phone: no screening prompt heard: %w", err))
		return
	}
	at, err := c.peer.pressKey(ctx, '1', 5)
	if err != nil {
		c.fail(fmt.Errorf("phone: pressing 1: %w", err))
		return
	}
	c.mu.Lock()
	c.pressedAt = at
	c.mu.Unlock()
	c.once(c.pressed)
	c.peer.say(rtCalleeTone)
}

// state returns the INVITE count and when the first INVITE arrived and 1
// was pressed.
func (c *screenPhone) state() (invites int, invitedAt, pressedAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invites, c.invitedAt, c.pressedAt
}

// rtWait waits for ch to be closed, failing the test after within.
func rtWait(t *testing.T, ch <-chan struct{}, within time.Duration, what string, detail func() string) time.Time {
	t.Helper()
	select {
	case <-ch:
		return time.Now()
	case <-time.After(within):
		t.Fatalf("%s did not happen within %s (%s)", what, within, detail())
		return time.Time{}
	}
}

// TestRoutingAfterHoursVoicemail: on a closed date the forward target is
// not rung; the caller goes straight to voicemail with the after-hours
// greeting and the beep, leaves a message, and the record's route says
// why.
func TestRoutingAfterHoursVoicemail(t *testing.T) {
	requireTools(t, "espeak-ng")
	callee := newToneCallee(t, media.PayloadPCMU, toneFreq, toneLevel)
	g := startGateway(t, gatewayOptions{
		Proxy: callee.addr(),
		Numbers: rtNumber(`ring_timeout: 5s, working_hours: ` + rtClosedToday() + `, after_hours: voicemail,
      voicemail: { enabled: true, silence_timeout: 2s, after_hours: { tts: "We are closed. Please leave a message." } }`),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dialVoicemail(ctx, t, g)

	const message = 2 * time.Second
	c.leaveMessage(ctx, t, message, nil)

	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantRecord("voicemail", "normal_clearing", "caller", 200)
	want.Callee = ""
	checkRecord(t, rec, want)
	route, vmID := g.rtRoute(t, rec.ID)
	rtExpectRoute(t, route, []string{"is a closed date", "after-hours action voicemail"}, []string{"after_hours greeting"})
	if vmID == "" {
		t.Fatalf("call record has no voicemail_id")
	}
	page := g.voicemails(t, ourNumber)
	if len(page.Voicemails) != 1 {
		t.Fatalf("%d voicemails, want 1: %+v", len(page.Voicemails), page)
	}
	vm := page.Voicemails[0]
	t.Logf("voicemail: %s", vm)
	if vm.ID != vmID || vm.Greeting != "after_hours" || vm.State != "complete" {
		t.Errorf("voicemail %s: want id %s, greeting after_hours, state complete", vm, vmID)
	}
	if math.Abs(vm.DurationSeconds-message.Seconds()) > 0.4 {
		t.Errorf("voicemail duration %.3f s, want %.0f ± 0.4 s", vm.DurationSeconds, message.Seconds())
	}
	if n := callee.inviteCount(); n != 0 {
		t.Errorf("the forward target got %d INVITE(s) on a closed date, want none", n)
	}
	for _, err := range c.peer.sendProblems() {
		t.Errorf("caller: %v", err)
	}
}

// TestRoutingInHoursForwards: hours covering the whole week ring the
// forward target, which answers; audio flows both ways and the route
// says the call came within the hours.
func TestRoutingInHoursForwards(t *testing.T) {
	callee := newToneCallee(t, media.PayloadPCMU, toneFreq, toneLevel)
	g := startGateway(t, gatewayOptions{
		Proxy:   callee.addr(),
		Numbers: rtNumber(`ring_timeout: 5s, working_hours: ` + rtAlwaysOpen + `, after_hours: hangup`),
	})
	caller := newGoCaller(t)
	callerRTP := newRTPPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dlg, err := caller.call(ctx, g.sipAddr, ourNumber, audioSDP(callerRTP.port(), media.PayloadPCMU))
	if err != nil {
		t.Fatalf("call in hours: %v (callee: %v)", err, callee.problems())
	}
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	rtWait(t, callee.answered, 5*time.Second, "the forward target's answer", func() string { return fmt.Sprint(callee.problems()) })
	stop := callerRTP.playTone(ctx, t, answer.Addr, media.PayloadPCMU, rtCallerTone.Freq, rtCallerTone.Level)
	heard := waitHeardTone(t, callerRTP, toneFreq, toneLevel-2, 5*time.Second)
	t.Logf("caller hears %.0f Hz at %.1f dBFS", heard.Freq, heard.Level)
	heard = waitHeardTone(t, callee.rtp, rtCallerTone.Freq, rtCallerTone.Level-2, 5*time.Second)
	t.Logf("callee hears %.0f Hz at %.1f dBFS", heard.Freq, heard.Level)
	stop()

	byeCtx, byeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("answered", "normal_clearing", "caller", 200))
	route, _ := g.rtRoute(t, rec.ID)
	rtExpectRoute(t, route, []string{"is within", "in hours"}, []string{"ring phone " + forwardNumber, "for 5s"})
	if n := callee.inviteCount(); n != 1 {
		t.Errorf("the forward target got %d INVITEs, want 1", n)
	}
	for _, err := range callee.problems() {
		t.Errorf("callee: %v", err)
	}
}

// TestRoutingClosedHangup: after hours with after_hours: hangup the
// caller hears the closed announcement as early media (183) and then
// gets 480; nothing rings.
func TestRoutingClosedHangup(t *testing.T) {
	requireTools(t, "espeak-ng")
	callee := newToneCallee(t, media.PayloadPCMU, toneFreq, toneLevel)
	g := startGateway(t, gatewayOptions{
		Proxy:   callee.addr(),
		Numbers: rtNumber(`ring_timeout: 5s, working_hours: ` + rtClosedToday() + `, after_hours: hangup, voicemail: { enabled: true }`),
	})
	caller := newGoCaller(t)
	peer := newVoicePeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := rtAwait(t, rtPlaceCall(ctx, caller, g, voiceSDP(peer.port())), 20*time.Second)
	if r.err == nil {
		t.Fatalf("the closed number answered the call (200), want 480 after the announcement")
	}
	if code := finalStatus(r.err); code != 480 {
		t.Errorf("final response %d (%v), want 480", code, r.err)
	}
	var early *timedResponse
	for i, p := range r.progress {
		t.Logf("provisional response: %d %s (%d bytes of body)", p.Res.StatusCode, p.Res.Reason, len(p.Res.Body()))
		if p.Res.StatusCode == 183 && len(p.Res.Body()) > 0 && early == nil {
			early = &r.progress[i]
		}
	}
	if early == nil {
		t.Errorf("no 183 with SDP before the 480 (RFC 3960 §3: early media needs one)")
	}

	frames := peer.frames()
	speech := 0
	for _, f := range frames {
		if !f.speech() {
			continue
		}
		speech++
		if f.At.After(r.at) {
			t.Errorf("announcement frame %v arrived after the 480", f)
			break
		}
	}
	t.Logf("caller got %d audio frames, %d of speech", len(frames), speech)
	if got := time.Duration(speech) * frameDuration; got < 1500*time.Millisecond {
		t.Errorf("the caller heard %s of speech before the 480, want ≥ 1.5 s of closed announcement", got)
	}

	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantRecord("missed", "", "", 480)
	want.Callee = ""
	checkRecord(t, rec, want)
	route, _ := g.rtRoute(t, rec.ID)
	rtExpectRoute(t, route, []string{"is a closed date", "after-hours action hangup"}, []string{"closed announcement"})
	if n := callee.inviteCount(); n != 0 {
		t.Errorf("the forward target got %d INVITE(s) while closed, want none", n)
	}
}

// TestScreeningWithoutOneDoesNotConnect: a screened forward target that
// answers but never presses 1 (a mobile's own voicemail) hears the prompt
// and is hung up when the ring step ends; the caller is never connected.
func TestScreeningWithoutOneDoesNotConnect(t *testing.T) {
	requireTools(t, "espeak-ng")
	const ringTimeout = 3 * time.Second
	phone := newScreenPhone(t, false)
	g := startGateway(t, gatewayOptions{
		Proxy:   phone.addr(),
		Numbers: rtNumber(fmt.Sprintf(`ring_timeout: %s, screening: true, no_answer: hangup`, ringTimeout)),
	})
	caller := newGoCaller(t)
	callerPeer := newVoicePeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := rtPlaceCall(ctx, caller, g, voiceSDP(callerPeer.port()))

	detail := func() string { return fmt.Sprint(phone.problems()) }
	rtWait(t, phone.answered, 5*time.Second, "the forward target's answer", detail)
	byeAt := rtWait(t, phone.byeGot, ringTimeout+3*time.Second, "the gateway's BYE to the unaccepting phone", detail)
	_, invitedAt, _ := phone.state()
	after := byeAt.Sub(invitedAt)
	t.Logf("BYE %s after the INVITE", after.Round(time.Millisecond))
	if after < ringTimeout-500*time.Millisecond || after > ringTimeout+time.Second {
		t.Errorf("the phone was hung up %s after its INVITE, want when the %s ring step ends (within ~4 s)", after, ringTimeout)
	}
	frames := phone.peer.frames()
	prompt := countFrames(frames, audioFrame.speech)
	t.Logf("the phone got %d audio frames, %d of speech", len(frames), prompt)
	if prompt < framesFor(time.Second) {
		t.Errorf("the phone heard %d frames of speech, want the screening prompt (≥ 1 s)", prompt)
	}

	r := rtAwait(t, done, 10*time.Second)
	if r.err == nil {
		t.Fatalf("the caller was connected (200) though the phone never pressed 1")
	}
	code := finalStatus(r.err)
	t.Logf("caller's final response: %d (%v)", code, r.err)
	if code != 480 && code != 408 && code != 487 {
		t.Errorf("caller's final response %d, want a no-answer failure (480, 408 or 487)", code)
	}
	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("missed", "no_answer", "", 0))
	route, _ := g.rtRoute(t, rec.ID)
	rtExpectRoute(t, route, []string{"ring phone " + forwardNumber, "screened"}, []string{"no-answer action hangup"})
	if n, _, _ := phone.state(); n != 1 {
		t.Errorf("the forward target got %d INVITEs, want 1", n)
	}
	for _, err := range phone.problems() {
		t.Errorf("%v", err)
	}
}

// TestScreeningPressOneConnects: the screened phone presses 1 after
// hearing the prompt; only then is the caller answered, and both hear
// each other. The phone's incoming RTP is one stream from the prompt into
// the caller's audio.
func TestScreeningPressOneConnects(t *testing.T) {
	requireTools(t, "espeak-ng")
	phone := newScreenPhone(t, true)
	g := startGateway(t, gatewayOptions{
		Proxy:   phone.addr(),
		Numbers: rtNumber(`ring_timeout: 10s, screening: true, no_answer: hangup`),
	})
	caller := newGoCaller(t)
	callerPeer := newVoicePeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := rtAwait(t, rtPlaceCall(ctx, caller, g, voiceSDP(callerPeer.port())), 15*time.Second)
	if r.err != nil {
		t.Fatalf("the caller was not connected: %v (phone: %v)", r.err, phone.problems())
	}
	// The gateway may answer on the first event packet, before the phone
	// has sent the end packets and noted the press.
	rtWait(t, phone.pressed, 2*time.Second, "the phone's key press", func() string {
		return fmt.Sprintf("the caller got 200 but the phone never pressed 1: %v", phone.problems())
	})
	_, invitedAt, pressedAt := phone.state()
	t.Logf("phone invited, pressed 1 %s later, caller answered %s after the press",
		pressedAt.Sub(invitedAt).Round(time.Millisecond), r.at.Sub(pressedAt).Round(time.Millisecond))
	if r.at.Before(pressedAt) {
		t.Errorf("the caller got 200 at %s, before the phone pressed 1 at %s", r.at, pressedAt)
	}
	answer, err := parseAudioSDP(r.dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, r.dlg.InviteResponse.Body())
	}
	callerPeer.startTalking(answer.Addr)
	callerPeer.say(rtCallerTone)

	isCalleeTone := func(f audioFrame) bool { return f.tone(rtCalleeTone.Freq, 20) }
	isCallerTone := func(f audioFrame) bool { return f.tone(rtCallerTone.Freq, 20) }
	if err := callerPeer.awaitFrames(ctx, func(fs []audioFrame) bool { return countFrames(fs, isCalleeTone) >= 25 }); err != nil {
		t.Errorf("the caller never heard the phone's %.0f Hz tone: %v", rtCalleeTone.Freq, err)
	}
	if err := phone.peer.awaitFrames(ctx, func(fs []audioFrame) bool { return countFrames(fs, isCallerTone) >= 25 }); err != nil {
		t.Errorf("the phone never heard the caller's %.0f Hz tone: %v", rtCallerTone.Freq, err)
	}
	callerPeer.stopTalking()
	byeCtx, byeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer byeCancel()
	if err := r.dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	rtWait(t, phone.byeGot, 5*time.Second, "the BYE to the phone", func() string { return fmt.Sprint(phone.problems()) })

	// What the phone heard: the prompt, then the caller.
	arrivals := phone.peer.received()
	frames := audioFrames(arrivals)
	firstCaller := -1
	for i, f := range frames {
		if isCallerTone(f) {
			firstCaller = i
			break
		}
	}
	if firstCaller < 0 {
		t.Fatalf("no frame of the caller's tone among the %d the phone got", len(frames))
	}
	if n := countFrames(frames[:firstCaller], audioFrame.speech); n < rtPromptHeard {
		t.Errorf("the phone heard %d frames of speech before the caller, want the prompt (≥ %d)", n, rtPromptHeard)
	}
	if frames[firstCaller].At.Before(pressedAt) {
		t.Errorf("the caller's audio reached the phone at %s, before it pressed 1 (%s)", frames[firstCaller].At, pressedAt)
	}
	// One stream (RFC 3550 §5.1): a new SSRC or a sequence jump between the
	// prompt and the bridge makes a phone reset its jitter buffer.
	first := arrivals[0].Header
	breaks := 0
	for i := 1; i < len(arrivals); i++ {
		prev, cur := arrivals[i-1].Header, arrivals[i].Header
		if cur.SSRC != first.SSRC || cur.SequenceNumber != prev.SequenceNumber+1 {
			if breaks < 5 {
				t.Errorf("stream break at packet %d of %d: SSRC %#x seq %d after SSRC %#x seq %d (first SSRC %#x)",
					i, len(arrivals), cur.SSRC, cur.SequenceNumber, prev.SSRC, prev.SequenceNumber, first.SSRC)
			}
			breaks++
		}
	}
	if breaks > 0 {
		t.Errorf("%d breaks in the phone's RTP stream across the prompt and the bridge", breaks)
	}

	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("answered", "normal_clearing", "caller", 200))
	route, _ := g.rtRoute(t, rec.ID)
	rtExpectRoute(t, route, []string{"ring phone " + forwardNumber, "screened"})
	for _, err := range phone.problems() {
		t.Errorf("%v", err)
	}
	for _, err := range append(callerPeer.sendProblems(), phone.peer.sendProblems()...) {
		t.Errorf("%v", err)
	}
}

// rtPlan mirrors the simulate answer (declared here so a change of the
// wire format breaks the test).
type rtPlan struct {
	Number     string    `json:"number"`
	Time       time.Time `json:"time"`
	AfterHours bool      `json:"after_hours"`
	Steps      []struct {
		Kind    string `json:"kind"`
		Targets []struct {
			Kind   string `json:"kind"`
			User   string `json:"user"`
			Number string `json:"number"`
		} `json:"targets"`
		TimeoutSeconds float64 `json:"timeout_seconds"`
		Screen         bool    `json:"screen"`
		Greeting       string  `json:"greeting"`
		Closed         bool    `json:"closed"`
		Why            string  `json:"why"`
	} `json:"steps"`
	Trace []string `json:"trace"`
}

// TestRoutingSimulateAPI: the owner simulates calls at fixed times outside
// and inside Mon-Fri 09:00-17:00 and gets the plan; another user may not,
// a bad time is refused, and simulating places no call.
func TestRoutingSimulateAPI(t *testing.T) {
	callee := newToneCallee(t, media.PayloadPCMU, toneFreq, toneLevel)
	g := startGateway(t, gatewayOptions{
		Proxy: callee.addr(),
		Users: `[ { id: alice, name: "Alice", token: "t" }, { id: bob, name: "Bob", token: "bob-token" } ]`,
		Numbers: rtNumber(`ring_timeout: 7s, voicemail: { enabled: true },
      working_hours: { timezone: "` + rtZone + `", hours: [ { days: [mon-fri], from: "09:00", to: "17:00" } ] }`),
	})
	before := len(g.calls(t))
	path := "/api/numbers/" + url.PathEscape(ourNumber) + "/simulate"
	jsonType := http.Header{"Content-Type": {"application/json"}}
	simulate := func(t *testing.T, at string, header http.Header) (apiReply, rtPlan) {
		t.Helper()
		body := fmt.Appendf(nil, `{"time": %q, "caller": %q}`, at, callerNumber)
		res := g.api(t, http.MethodPost, path, body, header)
		var plan rtPlan
		if res.Status == http.StatusOK {
			if err := json.Unmarshal(res.Body, &plan); err != nil {
				t.Fatalf("simulate answer is not a plan: %v: %s", err, res.Body)
			}
			t.Logf("plan at %s: %s", at, res.Body)
		}
		return res, plan
	}

	t.Run("after hours", func(t *testing.T) {
		const at = "2026-11-28T11:00:00+01:00" // a Saturday
		res, plan := simulate(t, at, jsonType)
		if res.Status != http.StatusOK {
			t.Fatalf("simulate: %d %s, want 200", res.Status, res.Body)
		}
		if want, _ := time.Parse(time.RFC3339, at); !plan.Time.Equal(want) || plan.Number != ourNumber {
			t.Errorf("plan for %s at %s, want %s at %s", plan.Number, plan.Time, ourNumber, want)
		}
		if !plan.AfterHours {
			t.Errorf("after_hours false on a Saturday, want true")
		}
		if len(plan.Steps) == 0 || plan.Steps[0].Kind != "voicemail" || plan.Steps[0].Greeting != "after_hours" {
			t.Fatalf("steps %+v, want a voicemail step with the after_hours greeting first", plan.Steps)
		}
		rtExpectRoute(t, plan.Trace, []string{"Sat 11:00", "outside", "after-hours action voicemail"})
	})
	t.Run("in hours", func(t *testing.T) {
		const at = "2026-11-24T10:00:00+01:00" // a Tuesday
		res, plan := simulate(t, at, jsonType)
		if res.Status != http.StatusOK {
			t.Fatalf("simulate: %d %s, want 200", res.Status, res.Body)
		}
		if plan.AfterHours {
			t.Errorf("after_hours true on Tuesday 10:00, want false")
		}
		if len(plan.Steps) < 2 {
			t.Fatalf("steps %+v, want a ring step and the no-answer voicemail", plan.Steps)
		}
		ring := plan.Steps[0]
		if ring.Kind != "ring" || ring.TimeoutSeconds != 7 || len(ring.Targets) != 1 ||
			ring.Targets[0].Kind != "phone" || ring.Targets[0].Number != forwardNumber {
			t.Errorf("first step %+v, want ring phone %s for 7 s", ring, forwardNumber)
		}
		if vm := plan.Steps[1]; vm.Kind != "voicemail" || vm.Greeting != "in_hours" {
			t.Errorf("second step %+v, want voicemail with the in_hours greeting", vm)
		}
		rtExpectRoute(t, plan.Trace, []string{"Tue 10:00", "is within", "in hours"})
	})
	t.Run("another user", func(t *testing.T) {
		header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer bob-token"}}
		if res, _ := simulate(t, "2026-11-24T10:00:00+01:00", header); res.Status != http.StatusForbidden {
			t.Errorf("bob simulating alice's number: %d %s, want 403", res.Status, res.Body)
		}
	})
	t.Run("bad time", func(t *testing.T) {
		for _, at := range []string{"yesterday", "2026-11-24 10:00", "2026-11-24T10:00:00"} {
			if res, _ := simulate(t, at, jsonType); res.Status != http.StatusBadRequest {
				t.Errorf("time %q: %d %s, want 400", at, res.Status, res.Body)
			}
		}
	})

	if after := len(g.calls(t)); after != before {
		t.Errorf("the call log went from %d to %d records by simulating", before, after)
	}
	if n := callee.inviteCount(); n != 0 {
		t.Errorf("simulating sent %d INVITE(s) to the forward target", n)
	}
}
