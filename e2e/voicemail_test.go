package e2e

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// The message the voicemail tests leave: a 440 Hz tone at -20 dBFS, well
// above the recorder's speech threshold (-45 dBFS) and far from the beep.
var messageTone = toneSpec{Freq: 440, Level: -20}

// isMessageTone matches a frame of messageTone.
func isMessageTone(f audioFrame) bool { return f.tone(messageTone.Freq, 20) }

// framesFor is how many 20 ms frames d lasts.
func framesFor(d time.Duration) int { return int(d / frameDuration) }

// voiceCall is a Go trunk caller in an answered call to +15550100, its RTP
// peer already sending (silence) to the gateway's answer address.
type voiceCall struct {
	caller *goCaller
	peer   *voicePeer
	dlg    *sipgo.DialogClientSession
	answer remoteAudio
}

// dialVoicemail calls +15550100 from a fresh caller that offers PCMU and
// telephone-event, waits for the answer and starts the caller's stream.
func dialVoicemail(ctx context.Context, t *testing.T, g *gateway) *voiceCall {
	t.Helper()
	c := &voiceCall{caller: newGoCaller(t), peer: newVoicePeer(t)}
	dlg, err := c.caller.call(ctx, g.sipAddr, ourNumber, voiceSDP(c.peer.port()))
	if err != nil {
		t.Fatalf("call to voicemail: %v", err)
	}
	c.dlg = dlg
	c.answer, err = parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	if len(c.answer.Formats) == 0 || c.answer.Formats[0] != media.PayloadPCMU {
		t.Fatalf("gateway answered payload types %v, want PCMU (0) first", c.answer.Formats)
	}
	c.peer.startTalking(c.answer.Addr)
	return c
}

// leaveMessage is the caller's side of a voicemail: it waits for the
// greeting (at least half a second of speech) and the beep, says the
// message tone for message and hangs up. more, when not nil, describes
// the state to report if the beep never comes (e.g. a browser tab's).
func (c *voiceCall) leaveMessage(ctx context.Context, t *testing.T, message time.Duration, more func() string) {
	t.Helper()
	frames, beep, err := c.peer.awaitBeep(ctx)
	if err != nil {
		state := ""
		if more != nil {
			state = more()
		}
		t.Fatalf("no beep: %v\n%s", err, state)
	}
	greeting := countFrames(frames[:beep.Start], audioFrame.speech)
	t.Logf("greeting: %d speech frames before the beep", greeting)
	if greeting < framesFor(500*time.Millisecond) {
		t.Errorf("the caller heard %d frames of speech before the beep, want a spoken greeting (≥ 25)", greeting)
	}
	checkBeep(t, frames, beep)
	if _, err := c.peer.sayFor(ctx, messageTone, framesFor(message)); err != nil {
		t.Fatal(err)
	}
	c.hangUp(ctx, t)
}

// hangUp sends the caller's BYE.
func (c *voiceCall) hangUp(ctx context.Context, t *testing.T) {
	t.Helper()
	byeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
}

// awaitGatewayBye waits for the gateway to hang up on the caller and
// returns when the BYE arrived.
func (c *voiceCall) awaitGatewayBye(t *testing.T, within time.Duration) time.Time {
	t.Helper()
	select {
	case <-c.caller.byeGot:
		return time.Now()
	case <-time.After(within):
		t.Fatalf("the gateway sent no BYE within %s", within)
		return time.Time{}
	}
}

// checkBeep asserts the beep found in frames is 1 kHz at -12 dBFS (±2 dB)
// lasting about 400 ms.
func checkBeep(t *testing.T, frames []audioFrame, beep frameRun) {
	t.Helper()
	if n := beep.Len(); n < beepFrames-2 || n > beepFrames+2 {
		t.Errorf("beep lasted %d frames, want %d ± 2 (400 ms)", n, beepFrames)
	}
	inner := joinSamples(frames[beep.Start+1 : beep.End-1]) // the frames with the 5 ms ramps aside
	level := testaudio.ToneLevelDBFS(inner, media.ClockRate, beepFreq)
	freq := testaudio.DominantFrequency(inner, media.ClockRate, 200, 3400, 5)
	t.Logf("beep: %d frames, %.0f Hz at %.2f dBFS", beep.Len(), freq, level)
	if math.Abs(freq-beepFreq) > 10 {
		t.Errorf("beep at %.0f Hz, want %.0f Hz", freq, beepFreq)
	}
	if math.Abs(level-beepLevel) > 2 {
		t.Errorf("beep level %.2f dBFS, want %.0f ± 2 dB", level, beepLevel)
	}
}

// waitCalls waits until the call log holds n calls, all ended, and
// returns them newest first.
func (g *gateway) waitCalls(t *testing.T, n int, within time.Duration) []callRecord {
	t.Helper()
	var last []callRecord
	err := waitFor(context.Background(), within, func() bool {
		last = g.calls(t)
		if len(last) != n {
			return false
		}
		for _, r := range last {
			if r.Outcome == "" {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("call log did not hold %d ended calls within %s: %v", n, within, last)
	}
	return last
}

// wantVoicemailRecord is the fixed part of the record of a call that
// reached voicemail on a number ringing alice's browsers.
func wantVoicemailRecord(outcome string) callRecord {
	want := wantRecord(outcome, "normal_clearing", "", 200)
	want.Callee = "user:alice"
	return want
}

// TestConsentBeforeRinging: a recorded number makes the caller hear the
// consent announcement as early media before anything rings; the forward
// target is dialled only once it has been played, and after the answer
// the caller hears the target on the same RTP stream (one SSRC,
// contiguous sequence numbers) that carried the announcement.
func TestConsentBeforeRinging(t *testing.T) {
	requireTools(t, "espeak-ng")
	const calleeLevel = -10.0
	callee := newToneCallee(t, media.PayloadPCMU, toneFreq, calleeLevel)
	g := startGateway(t, gatewayOptions{
		Proxy: callee.addr(),
		Numbers: fmt.Sprintf("  - { number: %q, trunk: carrier, owner: alice, ringing: forward, forward_to: %q, ring_timeout: 10s, record: true }\n",
			ourNumber, forwardNumber),
	})
	caller := newGoCaller(t)
	peer := newVoicePeer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dlg, progress, err := caller.callProgress(ctx, g.sipAddr, ourNumber, voiceSDP(peer.port()))
	if err != nil {
		t.Fatalf("call: %v (callee: %v)", err, callee.problems())
	}
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	peer.startTalking(answer.Addr)

	// RFC 3960 §3: early media comes with a 183 carrying the SDP answer.
	var early *timedResponse
	for i, p := range progress {
		t.Logf("provisional response: %d %s (%d bytes of body)", p.Res.StatusCode, p.Res.Reason, len(p.Res.Body()))
		if p.Res.StatusCode == 183 && len(p.Res.Body()) > 0 && early == nil {
			early = &progress[i]
		}
	}
	if early == nil {
		t.Fatalf("no 183 with SDP before the answer")
	}
	if ea, err := parseAudioSDP(early.Res.Body()); err != nil || ea.Addr != answer.Addr {
		t.Errorf("183 SDP: %v, media at %v; the 200 puts it at %v", err, ea.Addr, answer.Addr)
	}

	// Let a second of the callee's tone arrive, then hang up.
	err = peer.awaitFrames(ctx, func(fs []audioFrame) bool {
		return countFrames(fs, func(f audioFrame) bool { return f.tone(toneFreq, 20) }) >= 50
	})
	if err != nil {
		t.Errorf("the callee's 1 kHz tone did not reach the caller: %v (callee: %v)", err, callee.problems())
	}
	peer.stopTalking()
	byeCtx, byeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("answered", "normal_clearing", "caller", 200))

	invite := callee.firstInvite()
	if invite.IsZero() {
		t.Fatalf("the callee never got an INVITE")
	}
	arrivals := peer.received()
	frames := audioFrames(arrivals)
	if len(frames) == 0 {
		t.Fatalf("the caller received no audio")
	}
	start := frames[0].At
	at := func(tm time.Time) string { return tm.Sub(start).Round(time.Millisecond).String() }
	t.Logf("first packet at 0, 183 at %s, forward INVITE at %s, %d packets in all, last at %s",
		at(early.At), at(invite), len(arrivals), at(arrivals[len(arrivals)-1].At))

	// The consent: speech, all of it before the forward INVITE.
	var speech []audioFrame
	for _, f := range frames {
		if f.speech() {
			speech = append(speech, f)
		}
	}
	if got := time.Duration(len(speech)) * frameDuration; got < 1500*time.Millisecond {
		t.Errorf("the caller heard %s of speech, want ≥ 1.5 s of consent announcement", got)
	}
	if len(speech) > 0 {
		t.Logf("speech from %s to %s (%d frames)", at(speech[0].At), at(speech[len(speech)-1].At), len(speech))
		// The 183 goes out before the announcement; allow for the SIP stack
		// handing it to us a little after the kernel stamped early RTP.
		if speech[0].At.Before(early.At.Add(-20 * time.Millisecond)) {
			t.Errorf("speech arrived at %s, before the 183 (%s)", at(speech[0].At), at(early.At))
		}
	}
	late := 0
	for _, f := range speech {
		if !f.At.Before(invite) {
			if late < 5 {
				t.Errorf("consent speech frame %v arrived at %s, after the forward INVITE (%s)", f, at(f.At), at(invite))
			}
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d of %d speech frames arrived after the forward INVITE reached the callee", late, len(speech))
	}

	// The callee's tone, after the INVITE, at its level.
	var tone []audioFrame
	for _, f := range frames {
		if f.tone(toneFreq, 20) {
			tone = append(tone, f)
			if f.At.Before(invite) {
				t.Errorf("a 1 kHz frame (%v) arrived at %s, before the callee was even invited", f, at(f.At))
			}
		}
	}
	if len(tone) >= 20 {
		level := testaudio.ToneLevelDBFS(joinSamples(tone[5:]), media.ClockRate, toneFreq)
		t.Logf("callee tone: %d frames from %s at %.2f dBFS", len(tone), at(tone[0].At), level)
		if math.Abs(level-calleeLevel) > 1.5 {
			t.Errorf("the callee's tone reached the caller at %.2f dBFS, want %.0f ± 1.5 dB", level, calleeLevel)
		}
	}

	// One stream from the first consent packet to the callee's tone
	// (RFC 3550 §5.1: a receiver seeing a new SSRC or a sequence jump
	// resets its jitter buffer, heard as a click or a gap).
	first := arrivals[0].Header
	breaks := 0
	for i := 1; i < len(arrivals); i++ {
		prev, cur := arrivals[i-1].Header, arrivals[i].Header
		if cur.SSRC != first.SSRC || cur.SequenceNumber != prev.SequenceNumber+1 {
			if breaks < 5 {
				t.Errorf("stream break at packet %d (%s): SSRC %#x seq %d after SSRC %#x seq %d (first SSRC %#x)",
					i, at(arrivals[i].At), cur.SSRC, cur.SequenceNumber, prev.SSRC, prev.SequenceNumber, first.SSRC)
			}
			breaks++
		}
	}
	if breaks > 0 {
		t.Errorf("%d breaks in the caller's RTP stream across consent, ringback and the bridge", breaks)
	}
	for _, err := range callee.problems() {
		t.Errorf("callee: %v", err)
	}
}

// TestVoicemailLeaveMessage: nobody can take the call, the caller hears
// the greeting and the beep, leaves 3 s of tone and hangs up; the message
// is recorded, listed, downloadable (whole and by range), can be marked
// heard and deleted with its file.
func TestVoicemailLeaveMessage(t *testing.T) {
	requireTools(t, "espeak-ng")
	g := startGateway(t, gatewayOptions{
		Numbers: voicemailNumber(`{ enabled: true, silence_timeout: 3s, in_hours: { tts: "Please leave a message." } }`),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialVoicemail(ctx, t, g)

	const message = 3 * time.Second
	c.leaveMessage(ctx, t, message, nil)

	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantVoicemailRecord("voicemail")
	want.HangupSide = "caller"
	checkRecord(t, rec, want)
	vmID := g.callVoicemailID(t, rec.ID)
	if vmID == "" {
		t.Fatalf("call record has no voicemail_id")
	}

	path := "/api/numbers/" + url.PathEscape(ourNumber) + "/voicemails"
	page := g.voicemails(t, ourNumber)
	if len(page.Voicemails) != 1 {
		t.Fatalf("GET %s lists %d voicemails, want 1: %+v", path, len(page.Voicemails), page)
	}
	vm := page.Voicemails[0]
	t.Logf("voicemail: %s", vm)
	if vm.ID != vmID || vm.CallID != rec.ID || vm.Number != ourNumber || vm.Owner != "alice" || vm.Caller != callerNumber {
		t.Errorf("voicemail %s does not belong to call %s (voicemail_id %s) from %s to alice", vm, rec.ID, vmID, callerNumber)
	}
	if vm.State != "complete" || vm.EndReason != "hangup" || vm.Heard || vm.Greeting != "in_hours" {
		t.Errorf("voicemail state %q end_reason %q heard %v greeting %q, want complete, hangup, unheard, in_hours",
			vm.State, vm.EndReason, vm.Heard, vm.Greeting)
	}
	if math.Abs(vm.DurationSeconds-message.Seconds()) > 0.4 {
		t.Errorf("voicemail duration %.3f s, want %.0f ± 0.4 s", vm.DurationSeconds, message.Seconds())
	}
	if page.Unheard != 1 {
		t.Errorf("unheard = %d, want 1", page.Unheard)
	}
	if want := "voicemail/15550100/" + vm.ID + ".wav"; vm.File != want {
		t.Errorf("voicemail file %q, want %q", vm.File, want)
	}

	// The audio: 8 kHz 16-bit mono holding the 3 s tone at its level.
	audioPath := "/api/voicemails/" + url.PathEscape(vm.ID) + "/audio"
	whole := g.api(t, http.MethodGet, audioPath, nil, nil)
	audio := g.voicemailAudio(t, vm.ID)
	if audio.Channels != 1 || audio.Rate != 8000 || audio.Bits != 16 {
		t.Errorf("voicemail WAV is %d channel(s) at %d Hz, %d bits; want mono 8000 Hz 16-bit", audio.Channels, audio.Rate, audio.Bits)
	}
	if int64(len(whole.Body)) != vm.Bytes {
		t.Errorf("downloaded %d bytes, the record says %d", len(whole.Body), vm.Bytes)
	}
	vmFrames := sampleFrames(audio.Samples)
	var tone []audioFrame
	for _, f := range vmFrames {
		if isMessageTone(f) {
			tone = append(tone, f)
		}
	}
	wantFrames := framesFor(message)
	level := testaudio.ToneLevelDBFS(joinSamples(tone), media.ClockRate, messageTone.Freq)
	t.Logf("recording: %d frames (%.2f s), %d of them 440 Hz at %.2f dBFS", len(vmFrames), float64(len(audio.Samples))/8000, len(tone), level)
	if len(tone) < wantFrames-15 || len(tone) > wantFrames+15 {
		t.Errorf("recording holds %d frames of the 440 Hz tone, want %d ± 15", len(tone), wantFrames)
	}
	if math.Abs(level-messageTone.Level) > 2 {
		t.Errorf("recorded tone level %.2f dBFS, want %.0f ± 2 dB", level, messageTone.Level)
	}

	// A ranged download: the 44-byte header.
	ranged := g.api(t, http.MethodGet, audioPath, nil, http.Header{"Range": {"bytes=0-43"}})
	if ranged.Status != http.StatusPartialContent || len(ranged.Body) != 44 || !strings.HasPrefix(string(ranged.Body), "RIFF") {
		t.Errorf("Range: bytes=0-43 gave %d with %d bytes %q, want 206 with 44 bytes starting RIFF",
			ranged.Status, len(ranged.Body), ranged.Body[:min(len(ranged.Body), 8)])
	}
	if cr, want := ranged.Header.Get("Content-Range"), fmt.Sprintf("bytes 0-43/%d", len(whole.Body)); cr != want {
		t.Errorf("Content-Range %q, want %q", cr, want)
	}

	// Heard.
	patched := g.api(t, http.MethodPatch, "/api/voicemails/"+url.PathEscape(vm.ID), []byte(`{"heard":true}`),
		http.Header{"Content-Type": {"application/json"}})
	if patched.Status != http.StatusOK {
		t.Errorf("PATCH heard: %d %s", patched.Status, patched.Body)
	}
	page = g.voicemails(t, ourNumber)
	if page.Unheard != 0 || len(page.Voicemails) != 1 || !page.Voicemails[0].Heard || page.Voicemails[0].HeardAt == nil {
		t.Errorf("after PATCH heard: unheard %d, voicemails %+v; want 0 and heard with heard_at", page.Unheard, page.Voicemails)
	}

	// Deleted, file and all.
	file := filepath.Join(g.dataDir, filepath.FromSlash(vm.File))
	if _, err := os.Stat(file); err != nil {
		t.Errorf("voicemail file before DELETE: %v", err)
	}
	deleted := g.api(t, http.MethodDelete, "/api/voicemails/"+url.PathEscape(vm.ID), nil, nil)
	if deleted.Status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s, want 204", deleted.Status, deleted.Body)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("voicemail file after DELETE: %v, want it gone", err)
	}
	if page := g.voicemails(t, ourNumber); len(page.Voicemails) != 0 {
		t.Errorf("after DELETE the list holds %+v", page.Voicemails)
	}
	if gone := g.api(t, http.MethodGet, audioPath, nil, nil); gone.Status != http.StatusNotFound {
		t.Errorf("audio of a deleted voicemail: %d, want 404", gone.Status)
	}
	for _, err := range c.peer.sendProblems() {
		t.Errorf("caller: %v", err)
	}
}

// longGreeting is a greeting of about 20 s, long enough that a beep within
// a second of '*' can only mean the key skipped it.
var longGreeting = strings.TrimSpace(strings.Repeat("Thank you for calling. Nobody can take your call right now. ", 5))

// TestVoicemailDTMF: '*' skips the greeting and '#' ends the message, both
// as RFC 4733 events and, on a second call, as SIP INFO; the gateway then
// hangs up and the message is kept with end_reason dtmf.
func TestVoicemailDTMF(t *testing.T) {
	requireTools(t, "espeak-ng")
	g := startGateway(t, gatewayOptions{
		Numbers: voicemailNumber(fmt.Sprintf(`{ enabled: true, silence_timeout: 5s, in_hours: { tts: %q } }`, longGreeting)),
	})
	const message = 2 * time.Second

	for _, how := range []string{"RFC 4733", "SIP INFO"} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c := dialVoicemail(ctx, t, g)
		press := func(key rune) time.Time {
			t.Helper()
			if how == "RFC 4733" {
				at, err := c.peer.pressKey(ctx, key, 5)
				if err != nil {
					t.Fatalf("%s: pressing %c: %v", how, key, err)
				}
				return at
			}
			at := time.Now()
			res, err := sendInfoDigit(ctx, c.dlg, key)
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("%s: INFO %c: %v %v, want 200", how, key, res, err)
			}
			return at
		}

		// A second into the greeting, '*'.
		err := c.peer.awaitFrames(ctx, func(fs []audioFrame) bool { return countFrames(fs, audioFrame.speech) >= 50 })
		if err != nil {
			t.Fatalf("%s: no greeting: %v", how, err)
		}
		star := press('*')
		frames, beep, err := c.peer.awaitBeep(ctx)
		if err != nil {
			t.Fatalf("%s: no beep after '*': %v", how, err)
		}
		checkBeep(t, frames, beep)
		skip := frames[beep.Start].At.Sub(star)
		t.Logf("%s: beep %s after '*'", how, skip.Round(time.Millisecond))
		if skip < 0 || skip > 1200*time.Millisecond {
			t.Errorf("%s: the beep came %s after '*', want within ~1 s (the greeting skipped)", how, skip)
		}

		if _, err := c.peer.sayFor(ctx, messageTone, framesFor(message)); err != nil {
			t.Fatal(err)
		}
		hash := press('#')
		bye := c.awaitGatewayBye(t, 3*time.Second)
		t.Logf("%s: the gateway hung up %s after '#'", how, bye.Sub(hash).Round(time.Millisecond))
		c.peer.stopTalking()
		for _, err := range c.peer.sendProblems() {
			t.Errorf("%s: caller: %v", how, err)
		}
		cancel()
	}

	calls := g.waitCalls(t, 2, 10*time.Second)
	page := g.voicemails(t, ourNumber)
	if len(page.Voicemails) != 2 {
		t.Fatalf("%d voicemails listed, want 2: %+v", len(page.Voicemails), page.Voicemails)
	}
	if page.Unheard != 2 {
		t.Errorf("unheard = %d, want 2", page.Unheard)
	}
	for i, rec := range calls {
		t.Logf("call record: %s", rec)
		want := wantVoicemailRecord("voicemail")
		want.HangupSide = "system"
		checkRecord(t, rec, want)
		vm := page.Voicemails[i] // both lists are newest first
		t.Logf("voicemail: %s", vm)
		if id := g.callVoicemailID(t, rec.ID); id == "" || id != vm.ID || vm.CallID != rec.ID {
			t.Errorf("call %s has voicemail_id %q; voicemail %s names call %s", rec.ID, id, vm.ID, vm.CallID)
		}
		if vm.State != "complete" || vm.EndReason != "dtmf" {
			t.Errorf("voicemail %s: state %q end_reason %q, want complete, dtmf", vm.ID, vm.State, vm.EndReason)
		}
		// The message, plus the '#' (100 ms and its end packets) and the
		// round trip; nothing of the greeting.
		if vm.DurationSeconds < message.Seconds()-0.2 || vm.DurationSeconds > message.Seconds()+0.6 {
			t.Errorf("voicemail %s lasts %.3f s, want %.1f..%.1f s", vm.ID, vm.DurationSeconds, message.Seconds()-0.2, message.Seconds()+0.6)
		}
	}
}

// TestVoicemailTooShort: a caller who hangs up half a second after the
// beep leaves no voicemail: no record, no file, and the call stays missed.
func TestVoicemailTooShort(t *testing.T) {
	requireTools(t, "espeak-ng")
	g := startGateway(t, gatewayOptions{
		Numbers: voicemailNumber(`{ enabled: true, silence_timeout: 3s, in_hours: { tts: "Please leave a message." } }`),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dialVoicemail(ctx, t, g)
	if _, _, err := c.peer.awaitBeep(ctx); err != nil {
		t.Fatalf("no beep: %v", err)
	}
	if _, err := c.peer.sayFor(ctx, messageTone, framesFor(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	c.hangUp(ctx, t)

	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantVoicemailRecord("missed")
	want.HangupSide = "caller"
	checkRecord(t, rec, want)
	if id := g.callVoicemailID(t, rec.ID); id != "" {
		t.Errorf("call record names voicemail %q for a message under a second", id)
	}
	page := g.voicemails(t, ourNumber)
	if len(page.Voicemails) != 0 || page.Unheard != 0 {
		t.Errorf("voicemails listed after a 0.5 s message: %+v (unheard %d), want none", page.Voicemails, page.Unheard)
	}
	if files := g.voicemailFiles(t); len(files) != 0 {
		t.Errorf("voicemail files left on disk: %v", files)
	}
}

// TestVoicemailSilenceEnds: a caller who says something and then stays
// silent (still sending RTP) is hung up on after silence_timeout; the
// silent wait is trimmed from the message.
func TestVoicemailSilenceEnds(t *testing.T) {
	requireTools(t, "espeak-ng")
	const silence = 2 * time.Second
	g := startGateway(t, gatewayOptions{
		Numbers: voicemailNumber(fmt.Sprintf(`{ enabled: true, silence_timeout: %s, in_hours: { tts: "Please leave a message." } }`, silence)),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dialVoicemail(ctx, t, g)
	if _, _, err := c.peer.awaitBeep(ctx); err != nil {
		t.Fatalf("no beep: %v", err)
	}
	const message = 2 * time.Second
	if _, err := c.peer.sayFor(ctx, messageTone, framesFor(message)); err != nil {
		t.Fatal(err)
	}
	spoke := time.Now() // the last tone frame just went out; silence follows
	bye := c.awaitGatewayBye(t, silence+3*time.Second)
	wait := bye.Sub(spoke)
	t.Logf("the gateway hung up %s after the caller fell silent", wait.Round(time.Millisecond))
	if wait < silence-100*time.Millisecond || wait > silence+500*time.Millisecond {
		t.Errorf("hung up %s after the caller fell silent, want %s (silence_timeout) + at most 0.5 s", wait, silence)
	}

	rec := g.waitEndedCall(t, 10*time.Second)
	want := wantVoicemailRecord("voicemail")
	want.HangupSide = "system"
	checkRecord(t, rec, want)
	page := g.voicemails(t, ourNumber)
	if len(page.Voicemails) != 1 {
		t.Fatalf("%d voicemails listed, want 1", len(page.Voicemails))
	}
	vm := page.Voicemails[0]
	t.Logf("voicemail: %s", vm)
	if vm.State != "complete" || vm.EndReason != "silence" {
		t.Errorf("voicemail state %q end_reason %q, want complete, silence", vm.State, vm.EndReason)
	}
	if vm.DurationSeconds > 3 || vm.DurationSeconds < message.Seconds() {
		t.Errorf("voicemail lasts %.3f s, want %.0f..3 s (the silent wait trimmed)", vm.DurationSeconds, message.Seconds())
	}
	audio := g.voicemailAudio(t, vm.ID)
	if got := countFrames(sampleFrames(audio.Samples), isMessageTone); got < framesFor(message)-15 {
		t.Errorf("recording holds %d frames of the tone, want about %d", got, framesFor(message))
	}
}

// TestVoicemailSurvivesCrash: the gateway is killed (SIGKILL) while a
// message is being recorded. After a restart on the same data_dir the
// message is listed as interrupted and its audio, flushed every second
// while recording, plays back with at most about a second lost.
func TestVoicemailSurvivesCrash(t *testing.T) {
	requireTools(t, "espeak-ng")
	dataDir := filepath.Join(t.TempDir(), "data")
	numbers := voicemailNumber(`{ enabled: true, silence_timeout: 5s, in_hours: { tts: "Please leave a message." } }`)
	g := startGateway(t, gatewayOptions{Numbers: numbers, DataDir: dataDir})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dialVoicemail(ctx, t, g)
	if _, _, err := c.peer.awaitBeep(ctx); err != nil {
		t.Fatalf("no beep: %v", err)
	}
	c.peer.say(messageTone) // the tone goes on until the crash
	began, err := c.peer.sayFor(ctx, messageTone, framesFor(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}

	// While recording: listed as such, audio not yet served.
	page := g.voicemails(t, ourNumber)
	if len(page.Voicemails) != 1 || page.Voicemails[0].State != "recording" {
		t.Errorf("during the recording the list holds %+v, want one voicemail in state recording", page.Voicemails)
	} else if res := g.api(t, http.MethodGet, "/api/voicemails/"+url.PathEscape(page.Voicemails[0].ID)+"/audio", nil, nil); res.Status != http.StatusConflict {
		t.Errorf("audio of a voicemail being recorded: %d, want 409", res.Status)
	}

	g.crash(t)
	spoken := time.Since(began)
	c.peer.stopTalking()
	t.Logf("gateway killed %s into the message", spoken.Round(time.Millisecond))

	g2 := startGateway(t, gatewayOptions{Numbers: numbers, DataDir: dataDir})
	page = g2.voicemails(t, ourNumber)
	if len(page.Voicemails) != 1 {
		t.Fatalf("after the restart %d voicemails are listed, want 1: %+v", len(page.Voicemails), page.Voicemails)
	}
	vm := page.Voicemails[0]
	t.Logf("voicemail after the restart: %s", vm)
	if vm.State != "interrupted" {
		t.Errorf("voicemail state %q, want interrupted", vm.State)
	}
	audio := g2.voicemailAudio(t, vm.ID)
	if audio.Channels != 1 || audio.Rate != 8000 || audio.Bits != 16 {
		t.Errorf("repaired WAV is %d channel(s) at %d Hz, %d bits; want mono 8000 Hz 16-bit", audio.Channels, audio.Rate, audio.Bits)
	}
	fileSecs := float64(len(audio.Samples)) / 8000
	if math.Abs(vm.DurationSeconds-fileSecs) > 0.05 {
		t.Errorf("record says %.3f s, the repaired file holds %.3f s", vm.DurationSeconds, fileSecs)
	}
	tone := countFrames(sampleFrames(audio.Samples), isMessageTone)
	kept := time.Duration(tone) * frameDuration
	t.Logf("repaired recording: %.2f s, %s of it the tone; %s was spoken", fileSecs, kept, spoken.Round(time.Millisecond))
	if kept < time.Second {
		t.Errorf("the repaired recording holds %s of the tone, want ≥ 1 s", kept)
	}
	if lost := spoken - kept; lost > 1200*time.Millisecond {
		t.Errorf("the crash lost %s of the message, want at most about 1 s (flushed every second)", lost.Round(time.Millisecond))
	}

	calls := g2.calls(t)
	if len(calls) != 1 || calls[0].Outcome != "interrupted" {
		t.Errorf("call log after the restart: %v, want one interrupted call", calls)
	} else if id := g2.callVoicemailID(t, calls[0].ID); id != "" && id != vm.ID {
		t.Errorf("call record names voicemail %q, the listed one is %q", id, vm.ID)
	}
	if len(g2.logLines("voicemail", "interrupted")) == 0 {
		t.Errorf("the restart did not log the voicemail repair")
	}
}
