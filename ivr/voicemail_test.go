package ivr

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard/internal/testaudio"
	"switchboard/media"
	"switchboard/store"
	"switchboard/wavfile"
)

const (
	// vmNumber is the company number the test caller dialled.
	vmNumber = "+15550100"
	// vmDir is where its messages are kept, under the data directory.
	vmDir = "voicemail/15550100"
	// dtmfPT is the telephone-event payload type negotiated in the tests.
	dtmfPT = 101
	// vmWait bounds every wait for something that must happen.
	vmWait = 15 * time.Second
	// minBeepFrames is how many consecutive 20 ms frames of the beep tone
	// the far end must hear to call it the beep (it lasts 20): the edges
	// of other 1 kHz prompts (the MP3 greeting) cannot pass for it.
	minBeepFrames = 15
	// RFC 4733 §3.2 event codes.
	eventStar  = 10
	eventPound = 11
	// messageLevel is the level of the caller's "speech": a 440 Hz tone.
	messageLevel = -20
)

// beepHeard is the beep as the far end heard it.
type beepHeard struct {
	start, end time.Time
	frames     int
}

// farEnd is the caller's phone: a plain UDP socket on loopback that sends
// real-time paced RTP to the Line's endpoint and listens to what the Line
// sends, telling the greeting and the beep apart by ear.
type farEnd struct {
	conn   *net.UDPConn
	to     netip.AddrPort
	pt     uint8
	encode func(int16) byte
	decode *[256]int16

	ssrc uint32
	seq  uint16
	ts   uint32

	heard chan time.Time // when the first audible frame arrived
	beep  chan beepHeard // the first beep, once it has ended
	done  chan struct{}  // closed when the listener exits
}

func newFarEnd(t *testing.T, to netip.AddrPort, pt uint8) *farEnd {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)))
	if err != nil {
		t.Fatal(err)
	}
	f := &farEnd{
		conn: conn, to: to, pt: pt,
		encode: media.LinearToULaw, decode: &media.ULawToLinear,
		ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32(),
		heard: make(chan time.Time, 1), beep: make(chan beepHeard, 1), done: make(chan struct{}),
	}
	if pt == media.PayloadPCMA {
		f.encode, f.decode = media.LinearToALaw, &media.ALawToLinear
	}
	go f.listen()
	t.Cleanup(func() {
		conn.Close()
		<-f.done
	})
	return f
}

func (f *farEnd) addr() netip.AddrPort { return f.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// isBeep reports whether a frame is the beep: 1 kHz at the beep's level,
// and nothing else (a pure tone's RMS is 3 dB below its amplitude).
func isBeep(frame []int16) bool {
	lvl := testaudio.ToneLevelDBFS(frame, media.ClockRate, BeepFrequency)
	return math.Abs(lvl-beepLevel) <= 2 && math.Abs(testaudio.RMSDBFS(frame)+3.01-lvl) <= 1.5
}

// listen reads what the Line sends until the socket closes. It reports on
// buffered channels, each at most once, so it never blocks.
func (f *farEnd) listen() {
	defer close(f.done)
	buf := make([]byte, 2048)
	frame := make([]int16, 0, FrameSamples)
	heard, beepDone := false, false
	run := 0
	var runStart time.Time
	for {
		n, err := f.conn.Read(buf)
		if err != nil {
			return
		}
		at := time.Now()
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != f.pt {
			continue
		}
		frame = frame[:0]
		for _, b := range pkt.Payload {
			frame = append(frame, f.decode[b])
		}
		if !heard && testaudio.RMSDBFS(frame) > -40 {
			heard = true
			f.heard <- at
		}
		if beepDone {
			continue
		}
		if isBeep(frame) {
			if run == 0 {
				runStart = at
			}
			run++
			continue
		}
		if run >= minBeepFrames {
			beepDone = true
			f.beep <- beepHeard{start: runStart, end: at, frames: run}
		}
		run = 0
	}
}

// write sends one RTP packet.
func (f *farEnd) write(t *testing.T, pt uint8, marker bool, ts uint32, payload []byte) {
	t.Helper()
	b, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: f.seq, Timestamp: ts, SSRC: f.ssrc},
		Payload: payload,
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.WriteToUDPAddrPort(b, f.to); err != nil {
		t.Fatal(err)
	}
	f.seq++
}

// sendFrame sends one 20 ms frame of samples (the RTP timestamp advances
// even when lost is set and the packet is not sent).
func (f *farEnd) sendFrame(t *testing.T, samples []int16, lost bool) {
	t.Helper()
	if !lost {
		payload := make([]byte, len(samples))
		for i, s := range samples {
			payload[i] = f.encode(s)
		}
		f.write(t, f.pt, false, f.ts, payload)
	} else {
		f.seq++
	}
	f.ts += uint32(len(samples))
}

// send sends samples paced in real time, one 20 ms packet per tick; lost
// (may be nil) says which frames the network loses.
func (f *farEnd) send(t *testing.T, samples []int16, lost func(frame int) bool) {
	t.Helper()
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	for i := 0; i*FrameSamples < len(samples); i++ {
		if i > 0 {
			<-tick.C
		}
		f.sendFrame(t, samples[i*FrameSamples:min(len(samples), (i+1)*FrameSamples)], lost != nil && lost(i))
	}
}

// sendUntil sends frames paced in real time (frame(i) gives the i-th)
// until Leave returns, and returns its result.
func (f *farEnd) sendUntil(t *testing.T, res <-chan leaveResult, frame func(i int) []int16) leaveResult {
	t.Helper()
	tick := time.NewTicker(media.FrameDuration)
	defer tick.Stop()
	timeout := time.After(vmWait)
	for i := 0; ; i++ {
		f.sendFrame(t, frame(i), false)
		select {
		case r := <-res:
			return r
		case <-timeout:
			t.Fatal("Leave did not return")
		case <-tick.C:
		}
	}
}

// press sends one key press as RFC 4733 telephone-events: a start packet
// with the marker bit, an update, and the end packet three times (§2.5.1.4),
// all carrying the event's start timestamp.
func (f *farEnd) press(t *testing.T, event byte) {
	t.Helper()
	const volume = 10
	for i, dur := range []uint16{160, 320, 480, 480, 480} {
		flags := byte(volume)
		if i >= 2 {
			flags |= 0x80 // E: the event has ended
		}
		f.write(t, dtmfPT, i == 0, f.ts, []byte{event, flags, byte(dur >> 8), byte(dur)})
	}
	f.ts += 480
}

// awaitBeep waits until the far end has heard the whole beep.
func (f *farEnd) awaitBeep(t *testing.T) beepHeard {
	t.Helper()
	select {
	case b := <-f.beep:
		if b.frames < 17 || b.frames > 21 {
			t.Fatalf("beep lasted %d frames, want 20 (400 ms)", b.frames)
		}
		return b
	case <-time.After(vmWait):
		t.Fatal("no beep heard")
	}
	return beepHeard{}
}

// awaitHeard waits until the far end hears something (the greeting).
func (f *farEnd) awaitHeard(t *testing.T) time.Time {
	t.Helper()
	select {
	case at := <-f.heard:
		return at
	case <-time.After(vmWait):
		t.Fatal("no greeting heard")
	}
	return time.Time{}
}

// vmRig is a Mailbox over a real store, with a caller on a real Line.
type vmRig struct {
	dir    string
	st     *store.Store
	mb     *Mailbox
	line   *media.Line
	far    *farEnd
	hangup chan struct{}
	hungUp sync.Once
	digits chan media.Digit
}

func newVMRig(t *testing.T, pt uint8, prompts *Prompts) *vmRig {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base := 20000 + 2*rand.IntN(15000)
	pool, err := media.NewPortPool(base, base+199)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := media.OpenEndpoint(netip.MustParseAddr("127.0.0.1"), pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	far := newFarEnd(t, ep.LocalAddr(), pt)
	ep.SetRemote(far.addr())
	line, err := media.NewLine(ep, media.Direction{PayloadType: pt, DTMFType: dtmfPT}, media.StreamState{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Release() })
	return &vmRig{
		dir:    dir,
		st:     st,
		mb:     &Mailbox{DataDir: dir, Store: st, Prompts: prompts, Log: testLogger(t)},
		line:   line,
		far:    far,
		hangup: make(chan struct{}),
		digits: make(chan media.Digit, 4),
	}
}

func (r *vmRig) hangUp() { r.hungUp.Do(func() { close(r.hangup) }) }

// leaveResult is what Leave returned, and when.
type leaveResult struct {
	vm  *store.Voicemail
	err error
	at  time.Time
}

// leave starts Leave for the test caller; tweak (may be nil) adjusts the
// message. Cleanup hangs up and waits for Leave to return.
func (r *vmRig) leave(t *testing.T, ctx context.Context, greeting Source, tweak func(*Message)) <-chan leaveResult {
	t.Helper()
	msg := Message{
		Line:     r.line,
		Digits:   r.digits,
		Hangup:   r.hangup,
		Greeting: greeting,
		Kind:     store.GreetingAfterHours,
		Record:   store.Voicemail{CallID: "c1", Number: vmNumber, Owner: "alice", Caller: "+15551234"},
	}
	if tweak != nil {
		tweak(&msg)
	}
	ctx, cancel := context.WithCancel(ctx)
	res := make(chan leaveResult, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		vm, err := r.mb.Leave(ctx, msg)
		res <- leaveResult{vm: vm, err: err, at: time.Now()}
	}()
	t.Cleanup(func() {
		r.hangUp()
		cancel()
		select {
		case <-done:
		case <-time.After(vmWait):
			t.Error("Leave did not return after hangup")
		}
	})
	return res
}

// await waits for Leave's result.
func await(t *testing.T, res <-chan leaveResult) leaveResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(vmWait):
		t.Fatal("Leave did not return")
	}
	return leaveResult{}
}

// mustRecord checks that Leave stored a complete message ending for
// reason, lasting about want, and returns its audio.
func (r *vmRig) mustRecord(t *testing.T, res leaveResult, reason string, want time.Duration) []int16 {
	t.Helper()
	if res.err != nil || res.vm == nil {
		t.Fatalf("Leave = %v, %v; want a voicemail", res.vm, res.err)
	}
	vm := *res.vm
	if vm.State != store.VoicemailComplete || vm.EndReason != reason {
		t.Fatalf("voicemail state %q, end reason %q; want complete, %q", vm.State, vm.EndReason, reason)
	}
	got := time.Duration(vm.DurationSeconds * float64(time.Second))
	if d := got - want; d < -300*time.Millisecond || d > 300*time.Millisecond {
		t.Fatalf("duration %v, want %v ± 0.3 s", got, want)
	}
	if vm.CallID != "c1" || vm.Number != vmNumber || vm.Owner != "alice" || vm.Caller != "+15551234" || vm.Greeting != string(store.GreetingAfterHours) {
		t.Fatalf("record lost the call's details: %+v", vm)
	}
	if vm.File != vmDir+"/"+vm.ID+".wav" || vm.StartedAt.IsZero() || vm.Heard {
		t.Fatalf("record: file %q, started %v, heard %v", vm.File, vm.StartedAt, vm.Heard)
	}
	stored, err := r.st.GetVoicemail(vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, vm) {
		t.Fatalf("stored record %+v differs from the returned %+v", stored, vm)
	}
	list, _, err := r.st.ListVoicemails(vmNumber, store.ListOptions{})
	if err != nil || len(list) != 1 || list[0].ID != vm.ID {
		t.Fatalf("mailbox of %s lists %d messages (err %v), want the one recorded", vmNumber, len(list), err)
	}
	if open, err := r.st.RecordingVoicemails(); err != nil || len(open) != 0 {
		t.Fatalf("%d messages still recording (err %v)", len(open), err)
	}
	if n := r.mb.Active(); n != 0 {
		t.Fatalf("Active() = %d after Leave returned", n)
	}

	samples := readVoicemail(t, filepath.Join(r.dir, filepath.FromSlash(vm.File)), vm.Bytes)
	if d := time.Duration(len(samples)) * time.Second / media.ClockRate; d != got {
		t.Fatalf("file holds %v of audio, the record says %v", d, got)
	}
	return samples
}

// readVoicemail parses a recorded message: a canonical 8 kHz mono 16-bit
// WAV of size bytes whose header covers exactly the audio in it.
func readVoicemail(t *testing.T, path string, size int64) []int16 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Fatalf("file is %d bytes, the record says %d", fi.Size(), size)
	}
	channels, rate, frames, err := wavfile.Info(path)
	if err != nil {
		t.Fatal(err)
	}
	if channels != 1 || rate != media.ClockRate || frames != (fi.Size()-44)/2 {
		t.Fatalf("WAV: %d channels at %d Hz, %d frames in a %d-byte file; want mono 8 kHz covering the file", channels, rate, frames, fi.Size())
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, rate, err := DecodeWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if rate != media.ClockRate || int64(len(samples)) != frames {
		t.Fatalf("decoded %d samples at %d Hz, want %d at 8000", len(samples), rate, frames)
	}
	return samples
}

// assertNothingStored checks that no message was left: no record, no file.
func (r *vmRig) assertNothingStored(t *testing.T, res leaveResult) {
	t.Helper()
	if res.err != nil || res.vm != nil {
		t.Fatalf("Leave = %+v, %v; want nil, nil", res.vm, res.err)
	}
	if list, _, err := r.st.ListVoicemails("", store.ListOptions{}); err != nil || len(list) != 0 {
		t.Fatalf("store holds %d voicemails (err %v), want none", len(list), err)
	}
	if open, err := r.st.RecordingVoicemails(); err != nil || len(open) != 0 {
		t.Fatalf("%d voicemails left recording (err %v)", len(open), err)
	}
	entries, err := os.ReadDir(filepath.Join(r.dir, filepath.FromSlash(vmDir)))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%s holds %d files, want none (first %s)", vmDir, len(entries), entries[0].Name())
	}
	if n := r.mb.Active(); n != 0 {
		t.Fatalf("Active() = %d after Leave returned", n)
	}
}

// message returns seconds of the caller's "speech": 440 Hz at messageLevel.
func message(seconds float64) []int16 {
	return tone(440, media.ClockRate, seconds, messageLevel)
}

// shortGreeting is a 200 ms, 600 Hz WAV greeting, for tests about what
// follows it.
func shortGreeting(t *testing.T) Source {
	path := filepath.Join(t.TempDir(), "greeting.wav")
	if err := os.WriteFile(path, makeWAV(t, tone(600, 16000, 0.2, -15), 16000, 1, 16), 0o600); err != nil {
		t.Fatal(err)
	}
	return Source{Audio: path}
}

// testLogger sends a component's logs to the test's log, shown when it fails.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// mp3Greeting is the 1 s, 1 kHz MP3 fixture as a greeting.
func mp3Greeting(t *testing.T) Source {
	abs, err := filepath.Abs(mp3Fixture)
	if err != nil {
		t.Fatal(err)
	}
	return Source{Audio: abs}
}

func TestLeaveRecordsMessage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pt       uint8
		region   string
		greeting func(t *testing.T) Source
	}{
		{"PCMU with an MP3 greeting", media.PayloadPCMU, "US", mp3Greeting},
		{"PCMA with the UK ringback as greeting", media.PayloadPCMA, "GB", func(*testing.T) Source { return Source{Tone: ToneRingback} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newVMRig(t, tc.pt, NewPrompts(nil, tc.region, Limits{}))
			begin := time.Now()
			res := r.leave(t, context.Background(), tc.greeting(t), nil)
			beep := r.far.awaitBeep(t)
			// The beep follows the whole greeting (1 s MP3, 3 s ringback).
			if earliest := map[string]time.Duration{"US": 900 * time.Millisecond, "GB": 2900 * time.Millisecond}[tc.region]; beep.start.Sub(begin) < earliest {
				t.Fatalf("beep %v after Leave began, before the greeting ended", beep.start.Sub(begin))
			}
			if n := r.mb.Active(); n != 1 {
				t.Fatalf("Active() = %d while recording, want 1", n)
			}
			r.far.send(t, message(3), nil)
			r.hangUp()
			got := await(t, res)
			samples := r.mustRecord(t, got, EndHangup, 3*time.Second)
			assertTone(t, samples, media.ClockRate, 440, messageLevel, 1.5)
			if got.vm.StartedAt.Before(beep.start.Add(-time.Second)) || got.vm.StartedAt.After(beep.end.Add(time.Second)) {
				t.Fatalf("recording started at %v, the beep was heard %v..%v", got.vm.StartedAt, beep.start, beep.end)
			}
		})
	}
}

func TestLeaveEndsOnPound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		press func(r *vmRig, t *testing.T)
	}{
		{"RFC 4733", func(r *vmRig, t *testing.T) { r.far.press(t, eventPound) }},
		{"SIP INFO", func(r *vmRig, t *testing.T) { r.digits <- '#' }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
			res := r.leave(t, context.Background(), shortGreeting(t), nil)
			r.far.awaitBeep(t)
			r.far.send(t, message(1.5), nil)
			tc.press(r, t)
			got := await(t, res)
			samples := r.mustRecord(t, got, EndDTMF, 1500*time.Millisecond)
			assertTone(t, samples, media.ClockRate, 440, messageLevel, 1.5)
		})
	}
}

func TestLeaveStarSkipsGreeting(t *testing.T) {
	for _, tc := range []struct {
		name  string
		press func(r *vmRig, t *testing.T)
	}{
		{"RFC 4733", func(r *vmRig, t *testing.T) { r.far.press(t, eventStar) }},
		{"SIP INFO", func(r *vmRig, t *testing.T) { r.digits <- '*' }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The US ringback is a 6 s greeting.
			r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
			res := r.leave(t, context.Background(), Source{Tone: ToneRingback}, nil)
			greeting := r.far.awaitHeard(t)
			// A key other than '*' does not skip it; '#' means nothing yet.
			r.far.press(t, eventPound)
			pressed := time.Now()
			tc.press(r, t)
			beep := r.far.awaitBeep(t)
			if d := beep.start.Sub(pressed); d > time.Second {
				t.Fatalf("beep %v after '*'", d)
			}
			if d := beep.start.Sub(greeting); d > 3*time.Second {
				t.Fatalf("beep %v into a 6 s greeting: '*' did not skip it", d)
			}
			r.far.send(t, message(1.2), nil)
			r.hangUp()
			r.mustRecord(t, await(t, res), EndHangup, 1200*time.Millisecond)
		})
	}
}

func TestLeaveEndsOnSilence(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	res := r.leave(t, context.Background(), shortGreeting(t), func(m *Message) { m.SilenceTimeout = timeout })
	r.far.awaitBeep(t)
	speech := message(2)
	var lastSpeech time.Time
	got := r.far.sendUntil(t, res, func(i int) []int16 {
		if i*FrameSamples < len(speech) {
			lastSpeech = time.Now()
			return speech[i*FrameSamples : (i+1)*FrameSamples]
		}
		return make([]int16, FrameSamples) // encoded zero: digital silence
	})
	// The silence timer runs from the last speech; it is checked four
	// times a second.
	if waited := got.at.Sub(lastSpeech); waited < timeout || waited > timeout+600*time.Millisecond {
		t.Fatalf("message ended %v after the caller fell silent, want %v", waited, timeout)
	}
	// The silent wait is cut to half a second: 2.5 s, not 2 s + 2 s.
	samples := r.mustRecord(t, got, EndSilence, 2500*time.Millisecond)
	if len(samples) > 3*media.ClockRate {
		t.Fatalf("%d samples kept, want at most 3 s", len(samples))
	}
	assertTone(t, samples[:2*media.ClockRate], media.ClockRate, 440, messageLevel, 1.5)
	if rms := testaudio.RMSDBFS(samples[len(samples)-media.ClockRate/4:]); !math.IsInf(rms, -1) {
		t.Fatalf("the kept tail is at %.1f dBFS, want silence", rms)
	}
}

func TestLeaveSilentCallerLeavesNothing(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	res := r.leave(t, context.Background(), shortGreeting(t), func(m *Message) { m.SilenceTimeout = timeout })
	beep := r.far.awaitBeep(t)
	got := r.far.sendUntil(t, res, func(int) []int16 { return make([]int16, FrameSamples) })
	// Never having spoken, the caller is silent from the beep on.
	if waited := got.at.Sub(beep.end); waited < timeout-100*time.Millisecond || waited > timeout+600*time.Millisecond {
		t.Fatalf("Leave returned %v after the beep, want about %v", waited, timeout)
	}
	r.assertNothingStored(t, got)
}

func TestLeaveEndsAtMaxLength(t *testing.T) {
	t.Parallel()
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	res := r.leave(t, context.Background(), shortGreeting(t), func(m *Message) { m.MaxLength = 1500 * time.Millisecond })
	r.far.awaitBeep(t)
	speech := message(1)
	got := r.far.sendUntil(t, res, func(i int) []int16 {
		i %= len(speech) / FrameSamples
		return speech[i*FrameSamples : (i+1)*FrameSamples]
	})
	samples := r.mustRecord(t, got, EndMaxLength, 1500*time.Millisecond)
	assertTone(t, samples, media.ClockRate, 440, messageLevel, 1.5)
}

func TestLeaveDiscardsShortMessage(t *testing.T) {
	t.Parallel()
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	res := r.leave(t, context.Background(), shortGreeting(t), nil)
	r.far.awaitBeep(t)
	r.far.send(t, message(0.5), nil)
	r.hangUp()
	r.assertNothingStored(t, await(t, res))
}

func TestLeaveHangupDuringGreeting(t *testing.T) {
	t.Parallel()
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	res := r.leave(t, context.Background(), Source{Tone: ToneRingback}, nil)
	r.far.awaitHeard(t)
	r.hangUp()
	got := await(t, res)
	r.assertNothingStored(t, got)
	if _, err := os.Stat(filepath.Join(r.dir, "voicemail")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("voicemail directory: %v, want none created", err)
	}
	select {
	case <-r.far.beep:
		t.Fatal("the caller heard the beep after hanging up")
	default:
	}
}

func TestLeaveFillsLostPackets(t *testing.T) {
	t.Parallel()
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	res := r.leave(t, context.Background(), shortGreeting(t), nil)
	r.far.awaitBeep(t)
	const from, to = 70, 80 // frames lost in the middle of 150
	r.far.send(t, message(3), func(i int) bool { return i >= from && i < to })
	r.hangUp()
	samples := r.mustRecord(t, await(t, res), EndHangup, 3*time.Second)
	// The message keeps its timing: the gap is silence of the same length
	// (the tone itself never holds two zero samples in a row, but a zero
	// crossing may land right at its edge), with the tone on both sides
	// and the rest of the message after it.
	start, n := longestZeroRun(samples)
	if n < (to-from)*FrameSamples || n > (to-from)*FrameSamples+1 {
		t.Fatalf("longest silence is %d samples, want the %d lost", n, (to-from)*FrameSamples)
	}
	// Hangup may overtake the last packet or two.
	if after := len(samples) - (start + n); after > (150-to)*FrameSamples || after < (150-to-3)*FrameSamples {
		t.Fatalf("%d samples after the gap, want %d", after, (150-to)*FrameSamples)
	}
	for name, s := range map[string][]int16{
		"before": samples[start-5*FrameSamples : start],
		"after":  samples[start+n : start+n+5*FrameSamples],
	} {
		if lvl := testaudio.ToneLevelDBFS(s, media.ClockRate, 440); math.Abs(lvl-messageLevel) > 1.5 {
			t.Fatalf("100 ms %s the gap at %.1f dBFS, want the tone", name, lvl)
		}
	}
}

// longestZeroRun returns where the longest run of zero samples starts and
// its length.
func longestZeroRun(samples []int16) (start, n int) {
	run := 0
	for i, s := range samples {
		if s != 0 {
			run = 0
			continue
		}
		run++
		if run > n {
			start, n = i-run+1, run
		}
	}
	return start, n
}

func TestLeaveSurvivesStreamRestart(t *testing.T) {
	t.Parallel()
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	res := r.leave(t, context.Background(), shortGreeting(t), nil)
	r.far.awaitBeep(t)
	speech := message(3)
	r.far.send(t, speech[:len(speech)/2], nil)
	// The caller's side restarts its stream (a media server change after a
	// re-INVITE): new SSRC, and a timestamp that starts anywhere, here
	// 10 s behind.
	r.far.ssrc++
	r.far.ts -= 10 * media.ClockRate
	r.far.send(t, speech[len(speech)/2:], nil)
	r.hangUp()
	samples := r.mustRecord(t, await(t, res), EndHangup, 3*time.Second)
	assertTone(t, samples, media.ClockRate, 440, messageLevel, 1.5)
}

func TestLeaveShutdown(t *testing.T) {
	for _, tc := range []struct {
		name    string
		seconds float64
		kept    bool
	}{
		{"message kept", 1.5, true},
		{"too short to keep", 0.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := r.leave(t, ctx, shortGreeting(t), nil)
			r.far.awaitBeep(t)
			r.far.send(t, message(tc.seconds), nil)
			cancel()
			got := await(t, res)
			if !tc.kept {
				r.assertNothingStored(t, got)
				return
			}
			r.mustRecord(t, got, EndShutdown, time.Duration(tc.seconds*float64(time.Second)))
		})
	}
}

func TestLeaveWithBrokenGreetingStillRecords(t *testing.T) {
	t.Parallel()
	r := newVMRig(t, media.PayloadPCMU, NewPrompts(nil, "US", Limits{}))
	begin := time.Now()
	res := r.leave(t, context.Background(), Source{Audio: filepath.Join(t.TempDir(), "deleted.mp3")}, nil)
	beep := r.far.awaitBeep(t)
	if d := beep.start.Sub(begin); d > time.Second {
		t.Fatalf("beep %v after Leave began, want it at once", d)
	}
	r.far.send(t, message(1.2), nil)
	r.hangUp()
	r.mustRecord(t, await(t, res), EndHangup, 1200*time.Millisecond)
}

func TestRecover(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "switchboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mb := &Mailbox{DataDir: dir, Store: st, Prompts: NewPrompts(nil, "US", Limits{}), Log: testLogger(t)}

	newRecord := func(state store.VoicemailState) store.Voicemail {
		now := time.Now()
		id := store.NewID(now)
		vm := store.Voicemail{
			ID: id, CallID: "c-" + id, Number: vmNumber, Caller: "+15551234",
			File: vmDir + "/" + id + ".wav", StartedAt: now, State: state,
		}
		if err := st.CreateVoicemail(&vm); err != nil {
			t.Fatal(err)
		}
		return vm
	}

	// A recording the process was writing when it died: one second
	// flushed, one more written into the buffer, never closed. The file
	// as the crash left it is what was on disk at that moment.
	crashed := newRecord(store.VoicemailRecording)
	scratch := filepath.Join(t.TempDir(), "live.wav")
	w, err := wavfile.Create(scratch, 1, media.ClockRate)
	if err != nil {
		t.Fatal(err)
	}
	speech := message(2)
	if err := w.Write(speech[:media.ClockRate]); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(speech[media.ClockRate:]); err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(scratch)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Abort() // abandon the writer and its scratch file
	crashedPath := filepath.Join(dir, filepath.FromSlash(crashed.File))
	if err := os.MkdirAll(filepath.Dir(crashedPath), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crashedPath, onDisk, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, frames, err := wavfile.Info(crashedPath); err != nil || frames != media.ClockRate {
		t.Fatalf("before repair the header says %d frames (err %v), want the 8000 flushed", frames, err)
	}

	// A recording whose file never reached the disk, and a finished one
	// that recovery must leave alone.
	lost := newRecord(store.VoicemailRecording)
	done := newRecord(store.VoicemailComplete)

	n, err := mb.Recover()
	if err != nil || n != 2 {
		t.Fatalf("Recover = %d, %v; want 2 repaired", n, err)
	}
	got, err := st.GetVoicemail(crashed.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.VoicemailInterrupted || got.EndReason != "interrupted" {
		t.Fatalf("crashed recording: state %q, end reason %q; want interrupted", got.State, got.EndReason)
	}
	// Everything flushed survives, and whatever else reached the disk.
	if got.DurationSeconds < 1 || got.DurationSeconds > 2 {
		t.Fatalf("recovered %.3f s, want the 1 s flushed and at most the 2 s written", got.DurationSeconds)
	}
	samples := readVoicemail(t, crashedPath, got.Bytes)
	if math.Abs(float64(len(samples))/media.ClockRate-got.DurationSeconds) > 0.001 {
		t.Fatalf("file holds %d samples, the record says %.3f s", len(samples), got.DurationSeconds)
	}
	assertTone(t, samples, media.ClockRate, 440, messageLevel, 0.5)

	if got, err := st.GetVoicemail(lost.ID); err != nil || got.State != store.VoicemailInterrupted || got.DurationSeconds != 0 || got.Bytes != 0 {
		t.Fatalf("recording without a file: %+v, %v; want interrupted, empty", got, err)
	}
	if got, err := st.GetVoicemail(done.ID); err != nil || !reflect.DeepEqual(got, done) {
		t.Fatalf("finished message changed: %+v, %v; want %+v", got, err, done)
	}
	if n, err := mb.Recover(); err != nil || n != 0 {
		t.Fatalf("second Recover = %d, %v; want nothing left to repair", n, err)
	}
}
