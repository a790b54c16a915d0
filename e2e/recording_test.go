package e2e

// End-to-end tests of call recording: a number with record: true records
// its answered inbound calls, after the caller heard the consent, as a
// stereo WAV (caller left, answering side right, the consent at the start
// of the right channel) served by /api/calls/{id}/recording.

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// The two sides of a recorded call: the caller speaks 440 Hz, the forward
// target answers with 1 kHz, at different levels so a swapped channel or
// crosstalk shows.
const (
	recCallerFreq  = 440.0
	recCallerLevel = -20.0
	recCalleeFreq  = 1000.0
	recCalleeLevel = -10.0
)

// recordingInfo mirrors the Recording JSON of GET /api/calls/{id}/recording
// (declared here, like callRecord, so a change of the wire format breaks
// the tests).
type recordingInfo struct {
	CallID          string    `json:"call_id"`
	Number          string    `json:"number"`
	File            string    `json:"file"`
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	Bytes           int64     `json:"bytes"`
	Channels        int       `json:"channels"`
	DroppedPackets  uint64    `json:"dropped_packets"`
	State           string    `json:"state"`
	ConsentPlayed   bool      `json:"consent_played"`
}

func (r recordingInfo) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// recordedNumber is gatewayOptions.Numbers for +15550100 forwarding to
// +15550199 with its inbound calls recorded.
func recordedNumber() string {
	return fmt.Sprintf("  - { number: %q, trunk: carrier, owner: alice, ringing: forward, forward_to: %q, ring_timeout: 10s, record: true }\n",
		ourNumber, forwardNumber)
}

// recordingPath is the API path of call id's recording.
func recordingPath(id string) string { return "/api/calls/" + url.PathEscape(id) + "/recording" }

// recording fetches call id's recording record and the HTTP status; the
// record is zero unless the status is 200.
func (g *gateway) recording(t *testing.T, id string) (recordingInfo, int) {
	t.Helper()
	res := g.api(t, http.MethodGet, recordingPath(id), nil, nil)
	var rec recordingInfo
	if res.Status == http.StatusOK {
		if err := json.Unmarshal(res.Body, &rec); err != nil {
			t.Fatalf("GET %s: body is not a recording (%v): %s", recordingPath(id), err, res.Body)
		}
	}
	return rec, res.Status
}

// openCall waits for the one call that is answered and not yet ended and
// returns its id.
func (g *gateway) openCall(t *testing.T, within time.Duration) string {
	t.Helper()
	var id string
	var last []callRecord
	err := waitFor(context.Background(), within, func() bool {
		last = g.calls(t)
		for _, rec := range last {
			if rec.AnsweredAt != nil && rec.EndedAt == nil {
				id = rec.ID
			}
		}
		return id != ""
	})
	if err != nil {
		t.Fatalf("no answered call in progress within %s; call log: %v", within, last)
	}
	return id
}

// awaitRecording waits until call id has a recording record and returns it.
func (g *gateway) awaitRecording(t *testing.T, id string, within time.Duration) recordingInfo {
	t.Helper()
	var rec recordingInfo
	status := 0
	err := waitFor(context.Background(), within, func() bool {
		rec, status = g.recording(t, id)
		return status == http.StatusOK
	})
	if err != nil {
		t.Fatalf("call %s has no recording within %s (last status %d)", id, within, status)
	}
	return rec
}

// stereoAudio is a decoded two-channel recording.
type stereoAudio struct {
	Left, Right []int16
}

// decodeStereoWAV checks that data is a stereo 8 kHz 16-bit PCM WAV (with
// decodeWAVBytes, which also decodes it as a player would) and splits its
// data chunk into the two channels.
func decodeStereoWAV(data []byte) (stereoAudio, error) {
	w, err := decodeWAVBytes(data)
	if err != nil {
		return stereoAudio{}, err
	}
	if w.Channels != 2 || w.Rate != media.ClockRate || w.Bits != 16 {
		return stereoAudio{}, fmt.Errorf("%d channels, %d Hz, %d bits; want 2, %d, 16", w.Channels, w.Rate, w.Bits, media.ClockRate)
	}
	for off := 12; off+8 <= len(data); {
		id, size := string(data[off:off+4]), int(binary.LittleEndian.Uint32(data[off+4:]))
		if id != "data" {
			off += 8 + size + size%2 // chunks are word aligned
			continue
		}
		body := data[off+8:]
		if size != len(body) {
			return stereoAudio{}, fmt.Errorf("data chunk says %d bytes, the file holds %d after its header", size, len(body))
		}
		frames := size / 4
		a := stereoAudio{Left: make([]int16, frames), Right: make([]int16, frames)}
		for i := range frames {
			a.Left[i] = int16(binary.LittleEndian.Uint16(body[4*i:]))
			a.Right[i] = int16(binary.LittleEndian.Uint16(body[4*i+2:]))
		}
		if len(w.Samples) != frames {
			return stereoAudio{}, fmt.Errorf("decodeWAVBytes found %d frames, the data chunk %d", len(w.Samples), frames)
		}
		return a, nil
	}
	return stereoAudio{}, errors.New("no data chunk")
}

// recordingAudio downloads and decodes call id's recording, failing the
// test on any status but 200 or a file that is not stereo 8 kHz 16-bit.
// It also returns the raw file.
func (g *gateway) recordingAudio(t *testing.T, id string) (stereoAudio, []byte) {
	t.Helper()
	res := g.api(t, http.MethodGet, recordingPath(id)+"/audio", nil, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET recording audio of %s: %d %s", id, res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); ct != "audio/wav" {
		t.Errorf("recording audio Content-Type %q, want audio/wav", ct)
	}
	a, err := decodeStereoWAV(res.Body)
	if err != nil {
		t.Fatalf("recording of %s (%d bytes): %v", id, len(res.Body), err)
	}
	return a, res.Body
}

// recordingFiles lists the files under data_dir/recordings.
func (g *gateway) recordingFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(g.dataDir, "recordings"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing recording files: %v", err)
	}
	return out
}

// samplesDuration is the length of n samples at 8 kHz.
func samplesDuration(n int) time.Duration {
	return time.Duration(n) * time.Second / media.ClockRate
}

// consentLength returns where the recording's consent part ends: the
// first sample of the first tapped packet of either side. The left channel
// is digital silence (zeros) during the consent, so the caller's audio
// starts at its first non-zero sample; the callee's 1 kHz tone repeats
// every 8 samples exactly (8 kHz / 1 kHz), so on the right channel it
// starts where that periodicity begins, found by walking back from its
// first run of tone frames. ok is false when the right channel has no run
// of the callee's tone.
func consentLength(a stereoAudio) (n int, ok bool) {
	frames := sampleFrames(a.Right)
	var toneRun *frameRun
	for _, r := range runsOf(frames, func(f audioFrame) bool { return f.tone(recCalleeFreq, 20) }) {
		if r.Len() >= 10 {
			toneRun = &r
			break
		}
	}
	if toneRun == nil {
		return 0, false
	}
	const period = media.ClockRate / int(recCalleeFreq)
	// The µ-law codes of a 1 kHz tone repeat exactly; the tolerance only
	// absorbs the sender's floating-point phase drift crossing a code
	// boundary, far below the tone's amplitude of about 10000.
	const tol = 64
	right := (toneRun.Start + 1) * frameSamples
	for right > 0 && abs16(int(a.Right[right-1])-int(a.Right[right-1+period])) <= tol {
		right--
	}
	left := len(a.Left)
	for i, v := range a.Left {
		if v != 0 {
			left = i
			break
		}
	}
	return min(left, right), true
}

func abs16(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// checkConsentPart asserts what the first n samples of a recording hold:
// the consent announcement on the right channel, starting at once and at
// least a second of speech, and nothing on the left.
func checkConsentPart(t *testing.T, a stereoAudio, n int) {
	t.Helper()
	frames := sampleFrames(a.Right[:n])
	speech := countFrames(frames, audioFrame.speech)
	first := -1
	for i, f := range frames {
		if f.sound() {
			first = i
			break
		}
	}
	t.Logf("consent part: %s, %d speech frames (%s), first sound at frame %d", samplesDuration(n), speech,
		time.Duration(speech)*frameDuration, first)
	if got := time.Duration(speech) * frameDuration; got < time.Second {
		t.Errorf("the right channel's consent part holds %s of speech, want ≥ 1 s of the announcement", got)
	}
	switch {
	case first < 0:
		t.Errorf("the right channel's consent part is silent")
	case !frames[first].speech():
		t.Errorf("the right channel starts with %v, not speech", frames[first])
	case first > 25:
		t.Errorf("the right channel starts with %s of silence before the announcement", time.Duration(first)*frameDuration)
	}
	for i, v := range a.Left[:n] {
		if v != 0 {
			t.Errorf("the left channel holds sample %d at %s, within the consent part (the caller was not yet recorded)", v, samplesDuration(i))
			break
		}
	}
}

// checkToneFrames asserts that every 20 ms frame of samples (a channel's
// live part) is dominated by freq at level dBFS, with other at least 30 dB
// below it. A few bad frames (maxBad) are tolerated: a packet the gateway
// received later than the recorder's 60 ms jitter window on a loaded
// machine is silence in the file. It returns the number of frames checked.
func checkToneFrames(t *testing.T, name string, samples []int16, freq, level, other float64, maxBad int) int {
	t.Helper()
	var bad []string
	n := 0
	for i := 0; i+frameSamples <= len(samples); i += frameSamples {
		f := samples[i : i+frameSamples]
		n++
		dom := testaudio.DominantFrequency(f, media.ClockRate, 200, 3400, 10)
		lvl := testaudio.ToneLevelDBFS(f, media.ClockRate, freq)
		oth := testaudio.ToneLevelDBFS(f, media.ClockRate, other)
		if math.Abs(dom-freq) > 20 || math.Abs(lvl-level) > 1.5 || oth > lvl-30 {
			bad = append(bad, fmt.Sprintf("frame %d: dominant %.0f Hz, %.0f Hz at %.1f dBFS, %.0f Hz at %.1f dBFS",
				i/frameSamples, dom, freq, lvl, other, oth))
		}
	}
	t.Logf("%s: %d frames, %d not dominated by %.0f Hz at %.0f dBFS", name, n, len(bad), freq, level)
	if n == 0 {
		t.Errorf("%s: no audio", name)
	}
	if len(bad) > maxBad {
		t.Errorf("%s: %d of %d frames are not %.0f Hz at %.0f dBFS (with %.0f Hz 30 dB below), want at most %d:\n%s",
			name, len(bad), n, freq, level, other, maxBad, strings.Join(bad[:min(len(bad), 10)], "\n"))
	}
	return n
}

// checkRecordingInfo asserts the fields every recording of call id on
// ourNumber has, against the downloaded file.
func checkRecordingInfo(t *testing.T, rec recordingInfo, id, state string, a stereoAudio, file []byte) {
	t.Helper()
	t.Logf("recording: %s", rec)
	wantFile := "recordings/" + strings.TrimPrefix(ourNumber, "+") + "/" + id + ".wav"
	if rec.CallID != id || rec.Number != ourNumber || rec.File != wantFile || rec.Channels != 2 ||
		rec.State != state || !rec.ConsentPlayed {
		t.Errorf("recording %s, want call_id %s, number %s, file %s, channels 2, state %s, consent_played", rec, id, ourNumber, wantFile, state)
	}
	if rec.StartedAt.IsZero() || time.Since(rec.StartedAt) > time.Minute {
		t.Errorf("recording started_at %v, want within the last minute", rec.StartedAt)
	}
	if rec.Bytes != int64(len(file)) {
		t.Errorf("recording bytes %d, the file served has %d", rec.Bytes, len(file))
	}
	if secs := samplesDuration(len(a.Left)).Seconds(); math.Abs(rec.DurationSeconds-secs) > 0.002 {
		t.Errorf("recording duration_seconds %.3f, the file holds %.3f s", rec.DurationSeconds, secs)
	}
}

// TestRecordingTwoChannels: both sides talk for about 3 s and the caller
// hangs up. The recording is complete, stereo 8 kHz 16-bit: the right
// channel starts with the consent the caller heard, then the callee's
// 1 kHz; the left is silent during the consent, then the caller's 440 Hz;
// and the live part lasts as long as the caller talked, from the answer to
// the BYE.
func TestRecordingTwoChannels(t *testing.T) {
	requireTools(t, "espeak-ng")
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	g := startGateway(t, gatewayOptions{Proxy: callee.addr(), Numbers: recordedNumber()})
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	// Talk for 3 s, both sides sending all along; during the call the
	// recording is in progress and may not be deleted.
	res := talkRecorded(ctx, t, g, callee, 3*time.Second, func(id string, _ *voicePeer) {
		if rec, status := g.recording(t, id); status != http.StatusOK || rec.State != "recording" {
			t.Errorf("during the call: GET recording %d %s, want 200 with state recording", status, rec)
		}
		if res := g.api(t, http.MethodDelete, recordingPath(id), nil, nil); res.Status != http.StatusConflict {
			t.Errorf("DELETE while recording: %d %s, want 409", res.Status, res.Body)
		}
	})
	call, rec, a, file := res.Call, res.Rec, res.Audio, res.File
	talked := res.HangupAt.Sub(res.AnsweredAt)

	onDisk, err := os.ReadFile(filepath.Join(g.dataDir, filepath.FromSlash(rec.File)))
	if err != nil || string(onDisk) != string(file) {
		t.Errorf("data_dir/%s: %v; %d bytes, identical to the download: %v", rec.File, err, len(onDisk), string(onDisk) == string(file))
	}
	// Range requests, for a player that seeks: the header alone.
	part := g.api(t, http.MethodGet, recordingPath(call.ID)+"/audio", nil, http.Header{"Range": {"bytes=0-43"}})
	if part.Status != http.StatusPartialContent || string(part.Body) != string(file[:44]) {
		t.Errorf("Range bytes=0-43: %d, %d bytes (Content-Range %q), want 206 and the file's first 44 bytes",
			part.Status, len(part.Body), part.Header.Get("Content-Range"))
	}

	// talkRecorded checked the consent at the start and the tones of the
	// live part; here its length: as long as the caller talked.
	live := samplesDuration(len(a.Left) - res.Consent)
	t.Logf("recording: %s in all, consent %s, live %s; the caller talked %s (answer to BYE)",
		samplesDuration(len(a.Left)), samplesDuration(res.Consent), live, talked.Round(time.Millisecond))
	// Where the time goes at the start: the gateway notes the answer, then
	// starts the recorder (started_at) and only then taps the bridge.
	if call.AnsweredAt != nil {
		t.Logf("after the caller's 200: the record's answered_at %+v, the recording's started_at %+v",
			call.AnsweredAt.Sub(res.AnsweredAt).Round(time.Millisecond), rec.StartedAt.Sub(res.AnsweredAt).Round(time.Millisecond))
	}
	if d := live - talked; d < -40*time.Millisecond || d > 40*time.Millisecond {
		t.Errorf("the recording's live part lasts %s, the caller talked %s from the answer to the BYE: %+v off, want within 40 ms",
			live, talked.Round(time.Millisecond), d.Round(time.Millisecond))
		for _, l := range g.logLines("record") {
			t.Logf("log: %s", l)
		}
	}

	// Deleting it removes the record and the file.
	if res := g.api(t, http.MethodDelete, recordingPath(call.ID), nil, nil); res.Status != http.StatusNoContent {
		t.Errorf("DELETE recording: %d %s, want 204", res.Status, res.Body)
	}
	if _, status := g.recording(t, call.ID); status != http.StatusNotFound {
		t.Errorf("GET recording after DELETE: %d, want 404", status)
	}
	if files := g.recordingFiles(t); len(files) != 0 {
		t.Errorf("files left under data_dir/recordings after DELETE: %v", files)
	}
}

// recordedTalk is one recorded call and what came of it.
type recordedTalk struct {
	Call       callRecord
	Rec        recordingInfo
	Audio      stereoAudio
	File       []byte // the WAV as downloaded
	Consent    int    // samples of the recording before the live part
	AnsweredAt time.Time
	HangupAt   time.Time // just before the caller's BYE
	// Heard are the frames the caller received after the answer, up to
	// the BYE.
	Heard []audioFrame
}

// talkRecorded places a call from a Go caller speaking 440 Hz to
// recordedNumber on g, forwarded to callee (1 kHz), and lets both sides
// talk until the caller heard talk of the callee's tone and the callee
// heard talk of the caller's; then beforeHangup (may be nil) runs with the
// call id and the caller's RTP peer, and the caller hangs up. It checks what must hold whatever
// becomes of a live stream: the call record, that audio flowed both ways,
// and a complete recording with the consent, then the caller's tone on the
// left and the callee's on the right. It returns the call and its
// recording.
func talkRecorded(ctx context.Context, t *testing.T, g *gateway, callee *toneCallee, talk time.Duration, beforeHangup func(id string, peer *voicePeer)) recordedTalk {
	t.Helper()
	caller := newGoCaller(t)
	peer := newVoicePeer(t)
	dlg, _, err := caller.callProgress(ctx, g.sipAddr, ourNumber, voiceSDP(peer.port()))
	if err != nil {
		t.Fatalf("call: %v (callee: %v)", err, callee.problems())
	}
	res := recordedTalk{AnsweredAt: time.Now()}
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	peer.startTalking(answer.Addr) // resets what it says: tell it after
	peer.say(toneSpec{Freq: recCallerFreq, Level: recCallerLevel})

	frames := int(talk / frameDuration)
	err = peer.awaitFrames(ctx, func(fs []audioFrame) bool {
		n := 0
		for _, f := range fs {
			if f.At.After(res.AnsweredAt) && f.tone(recCalleeFreq, 20) {
				n++
			}
		}
		return n >= frames
	})
	if err != nil {
		t.Fatalf("the callee's tone did not reach the caller for %s: %v (callee: %v)", talk, err, callee.problems())
	}
	heardByCallee := 0
	if err := waitFor(ctx, 5*time.Second, func() bool {
		samples, _ := callee.rtp.received()
		heardByCallee = countFrames(sampleFrames(samples), func(f audioFrame) bool { return f.tone(recCallerFreq, 20) })
		return heardByCallee >= frames
	}); err != nil {
		t.Errorf("the callee heard %d frames of the caller's %.0f Hz, want %d (%s)", heardByCallee, recCallerFreq, frames, talk)
	}
	id := g.openCall(t, time.Second)
	if beforeHangup != nil {
		beforeHangup(id, peer)
	}
	res.HangupAt = time.Now()
	byeCtx, byeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	peer.stopTalking()
	for _, f := range peer.frames() {
		if f.At.After(res.AnsweredAt) && f.At.Before(res.HangupAt) {
			res.Heard = append(res.Heard, f)
		}
	}
	res.Call = g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, res.Call, wantRecord("answered", "normal_clearing", "caller", 200))
	if res.Call.ID != id {
		t.Errorf("the ended call is %s, the one in progress was %s", res.Call.ID, id)
	}
	for _, err := range append(callee.problems(), peer.sendProblems()...) {
		t.Errorf("peer: %v", err)
	}

	if err := waitFor(ctx, 5*time.Second, func() bool {
		var status int
		res.Rec, status = g.recording(t, id)
		return status == http.StatusOK && res.Rec.State != "recording"
	}); err != nil {
		t.Fatalf("recording of the ended call not closed within 5 s: %s", res.Rec)
	}
	res.Audio, res.File = g.recordingAudio(t, id)
	checkRecordingInfo(t, res.Rec, id, "complete", res.Audio, res.File)
	if res.Rec.DroppedPackets != 0 {
		t.Errorf("recording dropped %d packets on an idle machine", res.Rec.DroppedPackets)
	}
	var ok bool
	res.Consent, ok = consentLength(res.Audio)
	if !ok {
		t.Fatalf("the right channel never carries the callee's %.0f Hz tone (%s recorded)", recCalleeFreq, samplesDuration(len(res.Audio.Right)))
	}
	checkConsentPart(t, res.Audio, res.Consent)
	const edge = 2 * frameSamples
	if from, to := res.Consent+edge, len(res.Audio.Left)-edge; to-from >= 50*frameSamples {
		checkToneFrames(t, "recording left (caller)", res.Audio.Left[from:to], recCallerFreq, recCallerLevel, recCalleeFreq, 2)
		checkToneFrames(t, "recording right (callee)", res.Audio.Right[from:to], recCalleeFreq, recCalleeLevel, recCallerFreq, 2)
	} else {
		t.Errorf("the recording's live part holds %s, too little to analyse", samplesDuration(len(res.Audio.Left)-res.Consent))
	}
	return res
}

// lossyPlan is a caller's stream with faults: frames 0..frames-1 of a
// 440 Hz tone, 20 ms apart, except that the frames in drop are never sent
// and each frame in swap is held back and sent just after its successor.
type lossyPlan struct {
	frames int
	drop   map[int]bool
	swap   map[int]bool
}

// recCallerFrame returns frame i of the lossy caller's tone as linear
// samples. Its phase depends on i alone (a 20 ms frame holds 8.8 cycles of
// 440 Hz, so frame i starts 4i/5 of a cycle in), so a test can rebuild any
// frame exactly.
func recCallerFrame(i int) []int16 {
	phase := 2 * math.Pi * float64((4*i)%5) / 5
	return testaudio.Sine(recCallerFreq, media.ClockRate, frameSamples, testaudio.AmplitudeForDBFS(recCallerLevel), &phase)
}

// recCallerFrameHeard is frame i as a recorder decodes it: through µ-law.
func recCallerFrameHeard(i int) []int16 {
	out := recCallerFrame(i)
	for j, v := range out {
		out[j] = media.ULawToLinear[media.LinearToULaw(v)]
	}
	return out
}

// sendLossy sends plan as PCMU from conn to remote on an absolute 20 ms
// schedule, one SSRC, sequence numbers and timestamps those of the frame
// index (RFC 3550 §5.1: a dropped frame leaves a gap in both, a swapped
// pair arrives out of order). It returns when the last frame was sent.
func sendLossy(ctx context.Context, conn *net.UDPConn, remote netip.AddrPort, plan lossyPlan) error {
	const (
		ssrc = 0x5eed1234
		seq0 = 40000
		ts0  = 123456789
	)
	dst := net.UDPAddrFromAddrPort(remote)
	send := func(i int) error {
		payload := make([]byte, frameSamples)
		for j, v := range recCallerFrame(i) {
			payload[j] = media.LinearToULaw(v)
		}
		pkt := rtp.Packet{
			Header: rtp.Header{
				Version: 2, PayloadType: media.PayloadPCMU, Marker: i == 0, SSRC: ssrc,
				SequenceNumber: uint16(seq0 + i), Timestamp: uint32(ts0 + i*frameSamples),
			},
			Payload: payload,
		}
		raw, err := pkt.Marshal()
		if err != nil {
			return err
		}
		if _, err := conn.WriteToUDP(raw, dst); err != nil {
			return fmt.Errorf("sending frame %d to %s: %w", i, dst, err)
		}
		return nil
	}
	start := time.Now()
	held := -1
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := range plan.frames {
		timer.Reset(time.Until(start.Add(time.Duration(i) * frameDuration)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		switch {
		case plan.drop[i]:
			continue
		case plan.swap[i]:
			held = i
			continue
		}
		if err := send(i); err != nil {
			return err
		}
		if held >= 0 {
			if err := send(held); err != nil {
				return err
			}
			held = -1
		}
	}
	return nil
}

// TestRecordingLossAndReorder: the caller's stream loses 10 packets in a
// row and has pairs of packets swapped. The left channel is still placed
// by RTP timestamp: 200 ms of digital silence exactly where the lost
// packets belonged, every other frame exactly the audio sent, swapped
// frames in their right place (the 440 Hz continuous, no click), and the
// channel as long as the stream.
func TestRecordingLossAndReorder(t *testing.T) {
	requireTools(t, "espeak-ng")
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	g := startGateway(t, gatewayOptions{Proxy: callee.addr(), Numbers: recordedNumber()})
	caller := newGoCaller(t)
	peer := newRTPPeer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	dlg, err := caller.call(ctx, g.sipAddr, ourNumber, audioSDP(peer.port(), media.PayloadPCMU))
	if err != nil {
		t.Fatalf("call: %v (callee: %v)", err, callee.problems())
	}
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	// The caller speaks once the recording runs, so every frame of the
	// plan, the faults included, is in it.
	id := g.openCall(t, 5*time.Second)
	g.awaitRecording(t, id, 5*time.Second)

	// 3 s: frames 50-59 lost, three pairs swapped later on.
	plan := lossyPlan{frames: 150, drop: map[int]bool{}, swap: map[int]bool{80: true, 100: true, 120: true}}
	for i := 50; i < 60; i++ {
		plan.drop[i] = true
	}
	if err := sendLossy(ctx, peer.conn, answer.Addr, plan); err != nil {
		t.Fatalf("caller's stream: %v", err)
	}
	byeCtx, byeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	call := g.waitEndedCall(t, 10*time.Second)
	var rec recordingInfo
	if err := waitFor(ctx, 5*time.Second, func() bool {
		var status int
		rec, status = g.recording(t, call.ID)
		return status == http.StatusOK && rec.State != "recording"
	}); err != nil {
		t.Fatalf("recording of the ended call not closed within 5 s: %s", rec)
	}
	a, file := g.recordingAudio(t, call.ID)
	checkRecordingInfo(t, rec, call.ID, "complete", a, file)
	consent, ok := consentLength(a)
	if !ok {
		t.Fatalf("the right channel never carries the callee's %.0f Hz tone", recCalleeFreq)
	}
	checkConsentPart(t, a, consent)

	// Where the caller's first recorded frame starts: its first non-zero
	// sample, or a sample or two before (a frame may begin on a zero
	// crossing). It is frame 0 unless the tap began a packet late.
	firstNZ := -1
	for i := consent; i < len(a.Left); i++ {
		if a.Left[i] != 0 {
			firstNZ = i
			break
		}
	}
	if firstNZ < 0 {
		t.Fatalf("the left channel is silent: the caller was not recorded")
	}
	start, k0 := -1, -1
	for k := 0; k < 3 && start < 0; k++ {
		want := recCallerFrameHeard(k)
		for s := max(consent, firstNZ-2); s <= firstNZ && s+frameSamples <= len(a.Left); s++ {
			if slices.Equal(a.Left[s:s+frameSamples], want) {
				start, k0 = s, k
				break
			}
		}
	}
	if start < 0 {
		t.Fatalf("the left channel's first audio (at %s) is none of the caller's first frames: %v",
			samplesDuration(firstNZ), a.Left[firstNZ:min(firstNZ+16, len(a.Left))])
	}
	t.Logf("left channel: caller's frame %d at %s (consent part %s)", k0, samplesDuration(start), samplesDuration(consent))

	// Every frame in place: the sent audio, or silence for a lost one.
	end := start + (plan.frames-k0)*frameSamples
	if end > len(a.Left) {
		t.Fatalf("the left channel ends at %s, before the caller's stream (%s from its start)",
			samplesDuration(len(a.Left)), samplesDuration(end-start))
	}
	var wrong []string
	for i := k0; i < plan.frames; i++ {
		at := start + (i-k0)*frameSamples
		got := a.Left[at : at+frameSamples]
		want := make([]int16, frameSamples)
		if !plan.drop[i] {
			want = recCallerFrameHeard(i)
		}
		if !slices.Equal(got, want) {
			what := "the frame sent"
			if plan.drop[i] {
				what = "silence (lost)"
			}
			wrong = append(wrong, fmt.Sprintf("frame %d at %s: not %s (%.1f dBFS, 440 Hz at %.1f dBFS)",
				i, samplesDuration(at), what, testaudio.RMSDBFS(got), testaudio.ToneLevelDBFS(got, media.ClockRate, recCallerFreq)))
		}
	}
	if len(wrong) > 0 {
		t.Errorf("%d of %d caller frames misplaced in the recording:\n%s", len(wrong), plan.frames-k0, strings.Join(wrong[:min(len(wrong), 15)], "\n"))
	}
	// The lost stretch: 200 ms of zeros, exactly.
	lostFrom := start + (50-k0)*frameSamples
	zeros := 0
	for _, v := range a.Left[lostFrom : lostFrom+10*frameSamples] {
		if v == 0 {
			zeros++
		}
	}
	t.Logf("lost stretch at %s: %d of %d samples zero", samplesDuration(lostFrom), zeros, 10*frameSamples)
	// After the stream, nothing more from the caller.
	for i := end; i < len(a.Left); i++ {
		if a.Left[i] != 0 {
			t.Errorf("left channel holds audio at %s, after the caller's stream ended at %s", samplesDuration(i), samplesDuration(end))
			break
		}
	}

	// No clicks: from sample to sample a 440 Hz tone at -20 dBFS moves by
	// at most 2·A·sin(π·440/8000), plus µ-law's quantisation (steps of 128
	// at that level). A swapped pair written in arrival order would jump
	// by up to 2·A.
	amp := testaudio.AmplitudeForDBFS(recCallerLevel) * testaudio.FullScale
	bound := int(2*amp*math.Sin(math.Pi*recCallerFreq/media.ClockRate)) + 2*128
	maxJump, maxAt := 0, 0
	for i := start; i+1 < end; i++ {
		fr := k0 + (i-start)/frameSamples
		next := k0 + (i+1-start)/frameSamples
		if plan.drop[fr] || plan.drop[next] {
			continue // into and out of the lost stretch: silence by design
		}
		if j := abs16(int(a.Left[i+1]) - int(a.Left[i])); j > maxJump {
			maxJump, maxAt = j, i
		}
	}
	t.Logf("largest sample-to-sample step of the caller's tone: %d at %s (bound %d)", maxJump, samplesDuration(maxAt), bound)
	if maxJump > bound {
		t.Errorf("click in the caller's channel: a step of %d at %s (frame %d), a 440 Hz tone at %.0f dBFS allows %d",
			maxJump, samplesDuration(maxAt), k0+(maxAt-start)/frameSamples, recCallerLevel, bound)
	}
	for _, err := range callee.problems() {
		t.Errorf("callee: %v", err)
	}
}

// TestRecordingSurvivesKill: the gateway is killed (SIGKILL) two seconds
// into a recorded call and started again on the same data_dir. The
// recording is marked interrupted, and its file, repaired at startup,
// downloads, decodes and holds the call up to at most a second before the
// kill (the recorder flushes every 800 ms).
func TestRecordingSurvivesKill(t *testing.T) {
	requireTools(t, "espeak-ng")
	dataDir := filepath.Join(t.TempDir(), "data")
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	g := startGateway(t, gatewayOptions{Proxy: callee.addr(), Numbers: recordedNumber(), DataDir: dataDir})
	caller := newGoCaller(t)
	peer := newVoicePeer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	dlg, _, err := caller.callProgress(ctx, g.sipAddr, ourNumber, voiceSDP(peer.port()))
	if err != nil {
		t.Fatalf("call: %v (callee: %v)", err, callee.problems())
	}
	answeredAt := time.Now()
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	peer.startTalking(answer.Addr) // resets what it says: tell it after
	peer.say(toneSpec{Freq: recCallerFreq, Level: recCallerLevel})
	id := g.openCall(t, 5*time.Second)

	// Two seconds of talk: 100 frames of the callee's tone reached the
	// caller after the answer.
	err = peer.awaitFrames(ctx, func(fs []audioFrame) bool {
		n := 0
		for _, f := range fs {
			if f.At.After(answeredAt) && f.tone(recCalleeFreq, 20) {
				n++
			}
		}
		return n >= 100
	})
	if err != nil {
		t.Fatalf("the callee's tone did not reach the caller for 2 s: %v (callee: %v)", err, callee.problems())
	}
	if rec, status := g.recording(t, id); status != http.StatusOK || rec.State != "recording" {
		t.Errorf("before the kill: GET recording %d %s, want 200 with state recording", status, rec)
	}
	g.crash(t)
	talked := time.Since(answeredAt)
	peer.stopTalking()

	g2 := startGateway(t, gatewayOptions{Proxy: callee.addr(), Numbers: recordedNumber(), DataDir: dataDir})
	rec, status := g2.recording(t, id)
	if status != http.StatusOK {
		t.Fatalf("after the restart: GET recording %d, want 200", status)
	}
	a, file := g2.recordingAudio(t, id)
	checkRecordingInfo(t, rec, id, "interrupted", a, file)
	if lines := g2.logLines("recording interrupted by a restart repaired"); len(lines) != 1 {
		t.Errorf("restart logged %d recording repairs, want 1: %v", len(lines), lines)
	}
	consent, ok := consentLength(a)
	if !ok {
		t.Fatalf("the repaired recording (%s) never carries the callee's %.0f Hz tone", samplesDuration(len(a.Right)), recCalleeFreq)
	}
	checkConsentPart(t, a, consent)
	live := samplesDuration(len(a.Left) - consent)
	t.Logf("repaired recording: %s in all, consent %s, live %s; talk before the kill %s",
		samplesDuration(len(a.Left)), samplesDuration(consent), live, talked.Round(time.Millisecond))
	if live < talked-time.Second {
		t.Errorf("the repaired recording holds %s of the call, the caller talked %s before the kill: want ≥ %s",
			live, talked.Round(time.Millisecond), (talked - time.Second).Round(time.Millisecond))
	}
	const edge = 2 * frameSamples
	if from, to := consent+edge, len(a.Left)-edge; to-from >= 25*frameSamples {
		checkToneFrames(t, "left (caller)", a.Left[from:to], recCallerFreq, recCallerLevel, recCalleeFreq, 2)
		checkToneFrames(t, "right (callee)", a.Right[from:to], recCalleeFreq, recCalleeLevel, recCallerFreq, 2)
	} else {
		t.Errorf("the repaired recording's live part holds %s, too little to analyse", live)
	}
}

// TestRecordingNotAllowed: with recording.allowed false for the account,
// record: true on the number is overruled: the caller hears no consent
// (no 183 with media, no speech), the target rings at once, the call
// connects, and nothing is recorded.
func TestRecordingNotAllowed(t *testing.T) {
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	g := startGateway(t, gatewayOptions{
		Proxy:   callee.addr(),
		Numbers: recordedNumber(),
		Extra:   "recording: { allowed: false }\n",
	})
	caller := newGoCaller(t)
	peer := newVoicePeer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	invitedAt := time.Now()
	dlg, progress, err := caller.callProgress(ctx, g.sipAddr, ourNumber, voiceSDP(peer.port()))
	if err != nil {
		t.Fatalf("call: %v (callee: %v)", err, callee.problems())
	}
	answeredAt := time.Now()
	for _, p := range progress {
		t.Logf("provisional response: %d %s (%d bytes of body)", p.Res.StatusCode, p.Res.Reason, len(p.Res.Body()))
		if p.Res.StatusCode == 183 && len(p.Res.Body()) > 0 {
			t.Errorf("183 with SDP at %s: early media (a consent) on a number that may not record",
				p.At.Sub(invitedAt).Round(time.Millisecond))
		}
	}
	// The consent takes seconds; without it the target rings at once.
	if d := callee.firstInvite().Sub(invitedAt); callee.firstInvite().IsZero() || d > time.Second {
		t.Errorf("the forward target was invited %s after the caller's INVITE, want < 1 s (no consent first)", d.Round(time.Millisecond))
	}
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	peer.startTalking(answer.Addr) // resets what it says: tell it after
	peer.say(toneSpec{Freq: recCallerFreq, Level: recCallerLevel})
	err = peer.awaitFrames(ctx, func(fs []audioFrame) bool {
		n := 0
		for _, f := range fs {
			if f.At.After(answeredAt) && f.tone(recCalleeFreq, 20) {
				n++
			}
		}
		return n >= 50
	})
	if err != nil {
		t.Errorf("the callee's tone did not reach the caller: %v (callee: %v)", err, callee.problems())
	}
	id := g.openCall(t, time.Second)
	if rec, status := g.recording(t, id); status != http.StatusNotFound {
		t.Errorf("during the call: GET recording %d %s, want 404", status, rec)
	}
	byeCtx, byeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	peer.stopTalking()
	call := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, call, wantRecord("answered", "normal_clearing", "caller", 200))

	frames := peer.frames()
	if n := countFrames(frames, audioFrame.speech); n > 0 {
		t.Errorf("the caller heard %d frames of speech (%s), want no consent", n, time.Duration(n)*frameDuration)
	}
	if rec, status := g.recording(t, call.ID); status != http.StatusNotFound {
		t.Errorf("after the call: GET recording %d %s, want 404", status, rec)
	}
	if res := g.api(t, http.MethodGet, recordingPath(call.ID)+"/audio", nil, nil); res.Status != http.StatusNotFound {
		t.Errorf("GET recording audio: %d, want 404", res.Status)
	}
	if files := g.recordingFiles(t); len(files) != 0 {
		t.Errorf("files under data_dir/recordings of a number that may not record: %v", files)
	}
	if lines := g.logLines("recording the call"); len(lines) > 0 {
		t.Errorf("the gateway logged a recording: %v", lines)
	}
	for _, err := range callee.problems() {
		t.Errorf("callee: %v", err)
	}
}
