package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/media"
)

// This file covers the recording-consent announcement on calls placed from
// the browser: when the user's outbound calls are recorded
// (users[].record_outbound), the called party hears the consent of the
// number presented as caller ID after answering and before the browser is
// connected, on the one RTP stream that then carries the conversation.

// What the consent tests expect of the called party's audio.
const (
	// consentMinSpeech is the least speech the default consent text ("This
	// call may be recorded for quality and training.") makes: espeak-ng
	// speaks it in about 3 s.
	consentMinSpeech = 1500 * time.Millisecond
	// consentStartWithin bounds the time from the callee's 200 OK to the
	// first frame of the announcement.
	consentStartWithin = 300 * time.Millisecond
	// browserJoinWithin bounds the time from the callee's 200 OK (or the
	// end of the announcement) to the first frame of the browser's audio.
	browserJoinWithin = time.Second
	// browserRunFrames is how many consecutive 440 Hz frames mark the
	// browser's fake microphone as connected (a vowel never lasts that
	// long at one pure pitch).
	browserRunFrames = 10
	// strayFrames tolerates a few frames of codec onset (Opus starting up
	// is neither silence nor a clean tone for a frame or two).
	strayFrames = 5
)

// browserFrame matches a frame of the browser's fake microphone as the
// SIP side hears it: the 440 Hz tone of startBrowser, through Opus and
// G.711.
func browserFrame(f audioFrame) bool { return f.tone(browserToneFreq, 30) }

// consentCallee is the called party at the trunk's outbound proxy: it
// rings, answers with PCMU and notes when its 200 OK went out, keeps every
// RTP packet it receives with its kernel arrival time (voicePeer), and
// from the answer on sends the SIP tone back as a live far end would.
type consentCallee struct {
	calleeBase
	peer *voicePeer

	invites  int
	okAt     time.Time     // just before the 200 OK was sent
	answered chan struct{} // closed when our 200 was ACKed
	done     chan struct{} // closed by test cleanup: leave the handler
}

// newConsentCallee starts a consentCallee; it is closed by test cleanup.
func newConsentCallee(t *testing.T) *consentCallee {
	t.Helper()
	c := &consentCallee{
		peer:     newVoicePeer(t),
		answered: make(chan struct{}),
		done:     make(chan struct{}),
	}
	c.startAgent(t, c.onInvite)
	// Registered after newVoicePeer's cleanup, so it runs first: the
	// handler returns before the peer's socket closes.
	t.Cleanup(func() { close(c.done) })
	return c
}

// problems returns what went wrong on the callee's side.
func (c *consentCallee) problems() []error {
	return append(c.calleeBase.problems(), c.peer.sendProblems()...)
}

// answeredAt is when the 200 OK went out; zero before.
func (c *consentCallee) answeredAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.okAt
}

// inviteCount is how many INVITEs reached the callee.
func (c *consentCallee) inviteCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.invites
}

// onInvite rings, answers at once and stays in the handler for the
// dialog's life, as sipgo requires.
func (c *consentCallee) onInvite(dialogs *sipgo.DialogServerCache, req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	c.invites++
	c.mu.Unlock()
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
	if err := dlg.Respond(180, "Ringing", nil); err != nil {
		c.fail(fmt.Errorf("callee: 180: %w", err))
		return
	}
	c.mu.Lock()
	c.okAt = time.Now()
	c.mu.Unlock()
	// RespondSDP returns once the ACK for the 200 arrived (RFC 3261 §13.3.1.4).
	if err := dlg.RespondSDP(audioSDP(c.peer.port(), media.PayloadPCMU)); err != nil {
		c.fail(fmt.Errorf("callee: 200: %w", err))
		return
	}
	c.once(c.answered)
	// A live far end talks from the moment it answers: the gateway must not
	// pass this to the browser before the announcement ends.
	c.peer.startTalking(offer.Addr)
	c.peer.say(toneSpec{Freq: sipToneFreq, Level: sipToneDBFS})
	select {
	case <-dlg.Context().Done():
	case <-c.done:
	}
}

// consentUsers is the users list of the consent tests: Alice, with her
// outbound calls recorded or not.
func consentUsers(recordOutbound bool) string {
	return fmt.Sprintf(`[ { id: alice, name: "Alice Smith", team: support, token: %q, record_outbound: %t } ]`,
		aliceToken, recordOutbound)
}

// TestBrowserOutboundConsent: Alice calls out from the page presenting
// +15550100. With record_outbound the called party, once it answers, first
// hears the number's consent announcement (default text, espeak-ng) and
// only then Alice's microphone, on one RTP stream (one SSRC, contiguous
// sequence numbers, RFC 3550 §5.1); the page is connected only after the
// announcement. Without record_outbound the callee hears Alice at once.
func TestBrowserOutboundConsent(t *testing.T) {
	tests := []struct {
		name   string
		record bool
	}{
		// Neither name may end with the other: the re-executed test binary
		// selects its subtest with an unanchored-at-the-start pattern.
		{"record_outbound_on", true},
		{"record_outbound_off", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireTools(t, "espeak-ng")
			if !insideBrowserNetns(t) {
				return
			}
			testBrowserOutboundConsent(t, tc.record)
		})
	}
}

func testBrowserOutboundConsent(t *testing.T, record bool) {
	callee := newConsentCallee(t)
	opts := browserGatewayOptions(callee.addr())
	opts.Users = consentUsers(record)
	g := startGateway(t, opts)
	b := startBrowser(t)
	page := b.newPage("tab")
	page.signIn(g.httpBase, aliceToken)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	page.typeInto("textbox", "Number", forwardNumber)
	page.choose("combobox", "Caller ID", ourNumber)
	page.click("button", "Call")
	waitClosed(t, callee.answered, 15*time.Second, "the callee answers and gets the ACK", func() string {
		return fmt.Sprintf("callee problems %v\n%s", callee.problems(), page.snapshot())
	})
	okAt := callee.answeredAt()

	if record {
		// Half a second into the announcement the browser must not be in
		// the call yet: the gateway connects it when the consent is over.
		midCtx, midCancel := context.WithTimeout(ctx, 5*time.Second)
		err := callee.peer.awaitFrames(midCtx, func(fs []audioFrame) bool {
			return countFrames(fs, audioFrame.speech) >= 25
		})
		midCancel()
		if err != nil {
			t.Errorf("no 0.5 s of speech reached the callee within 5 s of its answer: %v\nframes: %s",
				err, describeFrames(callee.peer.frames(), okAt))
		} else if s := page.state(); s == "answered" {
			t.Errorf("the page shows %q while the callee still hears the consent announcement", s)
		} else {
			t.Logf("page state during the announcement: %q", s)
		}
	}

	// The browser's microphone reaches the callee (a second of it, so the
	// stream is checked well past the switch)...
	joinCtx, joinCancel := context.WithTimeout(ctx, 15*time.Second)
	err := callee.peer.awaitFrames(joinCtx, func(fs []audioFrame) bool {
		join, ok := browserJoin(fs)
		return ok && countFrames(fs[join:], browserFrame) >= 50
	})
	joinCancel()
	if err != nil {
		t.Fatalf("a second of the browser's %.0f Hz never reached the callee: %v (callee: %v)\nframes: %s\n%s",
			browserToneFreq, err, callee.problems(), describeFrames(callee.peer.frames(), okAt), page.snapshot())
	}
	// ...and the callee reaches the page.
	page.waitJS("the call is answered", `window.switchboard.state === "answered"`, 10*time.Second)
	readings := page.waitPageTone(sipToneFreq, browserPageFreqTo, 15*time.Second)
	t.Logf("the page hears the callee's tone: analyser peaks %v Hz", readings)

	page.click("button", "Hang up")
	waitClosed(t, callee.byeGot, 10*time.Second, "the callee gets a BYE after Hang up", page.snapshot)
	page.waitJS("the page is idle after hanging up", `window.switchboard.state === "idle"`, 10*time.Second)
	callee.peer.stopTalking()

	arrivals := callee.peer.received()
	frames := audioFrames(arrivals)
	checkConsentAudio(t, frames, okAt, record)
	checkOneStream(t, arrivals, okAt)

	if n := callee.inviteCount(); n != 1 {
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
		t.Errorf("call record has no webrtc leg: %v", legKinds(rec))
	}
	checkOutboundRecording(t, g, rec.ID, record)
}

// checkOutboundRecording: with record_outbound the call has a complete
// recording whose left channel (the caller, Alice's page) starts with the
// consent announcement the called party heard and goes on with her
// microphone's tone, while the right channel (the called party) is silent
// during the announcement and then carries the callee's tone. Without
// record_outbound there is no recording.
func checkOutboundRecording(t *testing.T, g *gateway, id string, record bool) {
	t.Helper()
	if !record {
		if _, status := g.recording(t, id); status != http.StatusNotFound {
			t.Errorf("without record_outbound: GET recording %d, want 404", status)
		}
		if files := g.recordingFiles(t); len(files) != 0 {
			t.Errorf("without record_outbound: files under data_dir/recordings: %v", files)
		}
		return
	}
	var rec recordingInfo
	if err := waitFor(context.Background(), 5*time.Second, func() bool {
		var status int
		rec, status = g.recording(t, id)
		return status == http.StatusOK && rec.State == "complete"
	}); err != nil {
		t.Fatalf("the outbound call's recording is not complete within 5 s: %s", rec)
	}
	a, file := g.recordingAudio(t, id)
	checkRecordingInfo(t, rec, id, "complete", a, file)

	left := sampleFrames(a.Left)
	join, ok := browserJoin(left)
	if !ok {
		t.Fatalf("the recording's left channel never carries the page's %.0f Hz (%s recorded)",
			browserToneFreq, samplesDuration(len(a.Left)))
	}
	prelude := left[:join]
	speech := countFrames(prelude, audioFrame.speech)
	first := slices.IndexFunc(prelude, audioFrame.sound)
	t.Logf("recording: %s; left channel: %d speech frames, then the page's tone from %s",
		samplesDuration(len(a.Left)), speech, time.Duration(join)*frameDuration)
	if got := time.Duration(speech) * frameDuration; got < consentMinSpeech {
		t.Errorf("the left channel starts with %s of speech, want ≥ %s of the consent announcement", got, consentMinSpeech)
	}
	if first < 0 || !prelude[first].speech() || first > 25 {
		t.Errorf("the left channel does not open with the announcement: first sound at frame %d", first)
	}
	lastSpeech := -1
	for i, f := range prelude {
		if f.speech() {
			lastSpeech = i
		}
	}
	// Up to the last speech frame but one: the live audio follows the
	// announcement at once, so the frame it ends in may hold the callee.
	right := sampleFrames(a.Right)
	if n := countFrames(right[:max(0, min(len(right), lastSpeech))], audioFrame.sound); n > 0 {
		t.Errorf("the right channel holds %d frames of sound during the announcement, want silence (the callee was not yet recorded)", n)
	}
	if live := right[min(len(right), join):]; countFrames(live, func(f audioFrame) bool { return f.tone(sipToneFreq, 20) }) < len(live)*3/4 {
		t.Errorf("the right channel's live part carries the callee's %.0f Hz in %d of %d frames, want most",
			sipToneFreq, countFrames(live, func(f audioFrame) bool { return f.tone(sipToneFreq, 20) }), len(live))
	}
}

// browserJoin returns the index of the first frame of the first run of
// browserRunFrames frames of the browser's tone: where the callee starts
// hearing the browser.
func browserJoin(frames []audioFrame) (int, bool) {
	for _, r := range runsOf(frames, browserFrame) {
		if r.Len() >= browserRunFrames {
			return r.Start, true
		}
	}
	return 0, false
}

// checkConsentAudio asserts what the callee heard from its answer until
// the browser joined: the consent announcement when record is set
// (starting promptly, at least consentMinSpeech of speech, no tone and no
// browser audio before it ends, the browser right after it), nothing
// spoken otherwise (the browser at once).
func checkConsentAudio(t *testing.T, frames []audioFrame, okAt time.Time, record bool) {
	t.Helper()
	join, ok := browserJoin(frames)
	if !ok {
		t.Fatalf("the callee never heard %d frames of the browser's %.0f Hz in a row\nframes: %s",
			browserRunFrames, browserToneFreq, describeFrames(frames, okAt))
	}
	since := func(tm time.Time) time.Duration { return tm.Sub(okAt).Round(time.Millisecond) }
	before := frames[:join]
	speech := countFrames(before, audioFrame.speech)
	t.Logf("callee: %d frames in all, first at %s after its 200 OK; the browser from frame %d at %s; %d speech frames before it",
		len(frames), since(frames[0].At), join, since(frames[join].At), speech)
	t.Logf("frames up to the browser: %s", describeFrames(frames[:min(len(frames), join+browserRunFrames)], okAt))

	if !record {
		if speech > strayFrames {
			t.Errorf("without record_outbound the callee heard %d frames (%s) of speech before the browser, want none",
				speech, time.Duration(speech)*frameDuration)
		}
		if d := frames[join].At.Sub(okAt); d > browserJoinWithin {
			t.Errorf("without record_outbound the browser's audio reached the callee %s after its 200 OK, want ≤ %s",
				d.Round(time.Millisecond), browserJoinWithin)
		}
		return
	}

	first, last := -1, -1
	for i, f := range before {
		if f.speech() {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if got := time.Duration(speech) * frameDuration; got < consentMinSpeech {
		t.Errorf("the callee heard %s of speech before the browser, want ≥ %s of consent announcement", got, consentMinSpeech)
	}
	if first < 0 {
		return
	}
	t.Logf("consent speech from %s to %s after the 200 OK", since(frames[first].At), since(frames[last].At))
	if d := frames[first].At.Sub(okAt); d > consentStartWithin {
		t.Errorf("the consent announcement began %s after the callee's 200 OK, want ≤ %s", d.Round(time.Millisecond), consentStartWithin)
	}
	// The announcement is what the callee hears first: no tone (ringback,
	// beep, the browser) before or within it.
	for i, f := range before[:last+1] {
		if f.sound() && f.Tonality >= tonalShare {
			t.Errorf("frame %d (%v) at %s, before the consent ended, is a tone", i, f, since(f.At))
			break
		}
	}
	if n := countFrames(before[:last+1], browserFrame); n > 0 {
		t.Errorf("%d frames of the browser's tone reached the callee during the consent announcement", n)
	}
	// Then the browser at once; and the announcement does not go on over it.
	if d := frames[join].At.Sub(frames[last].At); d > browserJoinWithin {
		t.Errorf("the browser's audio reached the callee %s after the consent ended, want ≤ %s", d.Round(time.Millisecond), browserJoinWithin)
	}
	if n := countFrames(frames[join:], audioFrame.speech); n > strayFrames {
		t.Errorf("%d speech frames reached the callee after the browser joined, want the announcement over", n)
	}
}

// checkOneStream asserts the gateway's RTP to the callee is one stream
// from the first packet to the last: one SSRC, sequence numbers
// contiguous, timestamps never going back (RFC 3550 §5.1; a receiver seeing
// a new SSRC or a jump resets its jitter buffer, heard as a click or gap).
func checkOneStream(t *testing.T, arrivals []rtpArrival, okAt time.Time) {
	t.Helper()
	if len(arrivals) == 0 {
		t.Errorf("the callee received no RTP")
		return
	}
	first := arrivals[0].Header
	breaks := 0
	for i := 1; i < len(arrivals); i++ {
		prev, cur := arrivals[i-1].Header, arrivals[i].Header
		if cur.SSRC == first.SSRC && cur.SequenceNumber == prev.SequenceNumber+1 && int32(cur.Timestamp-prev.Timestamp) > 0 {
			continue
		}
		if breaks < 5 {
			t.Errorf("stream break at packet %d (%s after the 200 OK): SSRC %#x seq %d ts %d marker %v after SSRC %#x seq %d ts %d (%s)",
				i, arrivals[i].At.Sub(okAt).Round(time.Millisecond), cur.SSRC, cur.SequenceNumber, cur.Timestamp, cur.Marker,
				prev.SSRC, prev.SequenceNumber, prev.Timestamp, arrivals[i-1].At.Sub(okAt).Round(time.Millisecond))
		}
		breaks++
	}
	if breaks > 0 {
		t.Errorf("%d breaks in the callee's RTP stream of %d packets", breaks, len(arrivals))
	} else {
		t.Logf("one RTP stream to the callee: SSRC %#x, %d packets, seq %d to %d",
			first.SSRC, len(arrivals), first.SequenceNumber, arrivals[len(arrivals)-1].Header.SequenceNumber)
	}
}

// describeFrames summarises frames as runs of one kind (speech, browser
// tone, other tone, silence) with their time after okAt, for logs and
// failure messages.
func describeFrames(frames []audioFrame, okAt time.Time) string {
	kind := func(f audioFrame) string {
		switch {
		case !f.sound():
			return "silence"
		case browserFrame(f):
			return "browser"
		case f.speech():
			return "speech"
		default:
			return fmt.Sprintf("tone %.0f Hz", f.Freq)
		}
	}
	var b strings.Builder
	for i := 0; i < len(frames); {
		j := i
		for j < len(frames) && kind(frames[j]) == kind(frames[i]) {
			j++
		}
		fmt.Fprintf(&b, "[%s ×%d from %s] ", kind(frames[i]), j-i, frames[i].At.Sub(okAt).Round(time.Millisecond))
		i = j
	}
	return b.String()
}
