package e2e

// End-to-end test of a recorded call whose caller changes codecs mid-call
// with a re-INVITE (PCMU to PCMA): the recording follows the switch without
// a gap.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// codecSender sends a tone as one RTP stream, 20 ms per packet on an
// absolute schedule, in a payload type that can change mid-stream: one
// SSRC, sequence numbers and timestamps contiguous across the change, the
// sine's phase too (RFC 3550 §5.1: a source may change its payload type
// within a stream).
type codecSender struct {
	conn        *net.UDPConn
	freq, level float64

	mu     sync.Mutex
	remote netip.AddrPort
	pt     uint8
	sent   map[uint8]int // packets sent per payload type
	errs   []error

	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// startCodecSender starts sending freq at level dBFS from conn to remote as
// payload type pt; halted by test cleanup at the latest.
func startCodecSender(t *testing.T, conn *net.UDPConn, remote netip.AddrPort, pt uint8, freq, level float64) *codecSender {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &codecSender{conn: conn, freq: freq, level: level, remote: remote, pt: pt,
		sent: map[uint8]int{}, cancel: cancel, done: make(chan struct{})}
	go s.run(ctx)
	t.Cleanup(s.halt)
	return s
}

func (s *codecSender) run(ctx context.Context) {
	defer close(s.done)
	const (
		ssrc = 0x0c0dec01
		seq0 = 21000
		ts0  = 987654
	)
	amp := testaudio.AmplitudeForDBFS(s.level)
	var phase float64
	payload := make([]byte, frameSamples)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.mu.Lock()
		pt, remote := s.pt, s.remote
		s.mu.Unlock()
		for j, v := range testaudio.Sine(s.freq, media.ClockRate, frameSamples, amp, &phase) {
			if pt == media.PayloadPCMA {
				payload[j] = media.LinearToALaw(v)
			} else {
				payload[j] = media.LinearToULaw(v)
			}
		}
		pkt := rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: pt, Marker: i == 0, SSRC: ssrc,
				SequenceNumber: uint16(seq0 + i), Timestamp: uint32(ts0 + i*frameSamples)},
			Payload: payload,
		}
		raw, err := pkt.Marshal()
		if err == nil {
			_, err = s.conn.WriteToUDP(raw, net.UDPAddrFromAddrPort(remote))
		}
		s.mu.Lock()
		if err != nil {
			if len(s.errs) < 10 {
				s.errs = append(s.errs, fmt.Errorf("sending RTP packet %d to %s: %w", i, remote, err))
			}
		} else {
			s.sent[pt]++
		}
		s.mu.Unlock()
		timer.Reset(time.Until(start.Add(time.Duration(i+1) * frameDuration)))
	}
}

// switchTo makes the following packets payload type pt, sent to remote.
func (s *codecSender) switchTo(pt uint8, remote netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pt, s.remote = pt, remote
}

// halt stops the sender and waits for it; later calls do nothing.
func (s *codecSender) halt() {
	s.once.Do(func() {
		s.cancel()
		<-s.done
	})
}

// counts returns the packets sent per payload type and the send errors.
func (s *codecSender) counts() (map[uint8]int, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[uint8]int, len(s.sent))
	for k, v := range s.sent {
		out[k] = v
	}
	return out, append([]error(nil), s.errs...)
}

// reofferSDP is audioSDP as a new offer within the session: the same
// origin with its version incremented (RFC 3264 §8: every changed
// description gets the next version).
func reofferSDP(port int, pts ...uint8) []byte {
	prefix := "o=e2e " + strconv.Itoa(port) + " "
	return bytes.Replace(audioSDP(port, pts...), []byte(prefix+"1 "), []byte(prefix+"2 "), 1)
}

// reinvite sends a re-INVITE with sdpBody within dlg (RFC 3261 §14.1) and
// returns its final response; a 2xx is acknowledged with an ACK of the
// re-INVITE's CSeq, a transaction of its own (§13.2.2.4).
func reinvite(ctx context.Context, dlg *sipgo.DialogClientSession, sdpBody []byte) (*sip.Response, error) {
	target := dlg.InviteRequest.Recipient
	if c := dlg.InviteResponse.Contact(); c != nil {
		target = c.Address // §12.2.1.1: the remote target
	}
	req := sip.NewRequest(sip.INVITE, *target.Clone())
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(sdpBody)
	res, err := dlg.Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("re-INVITE: %w", err)
	}
	if res.IsSuccess() {
		// buildReq gives the ACK the dialog's last CSeq number, which is
		// the re-INVITE's, with method ACK.
		if err := dlg.WriteRequest(sip.NewRequest(sip.ACK, *target.Clone())); err != nil {
			return res, fmt.Errorf("ACK for the re-INVITE's %d: %w", res.StatusCode, err)
		}
	}
	return res, nil
}

// awaitArrivals waits until cond holds for the packets p received so far
// (re-checked on every arrival) or ctx ends. cond must not keep the slice.
func (p *voicePeer) awaitArrivals(ctx context.Context, cond func([]rtpArrival) bool) error {
	for {
		p.mu.Lock()
		arr, changed := p.arrivals[:len(p.arrivals):len(p.arrivals)], p.changed
		p.mu.Unlock()
		if cond(arr) {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("after %d packets: %w", len(arr), ctx.Err())
		}
	}
}

// g711Only maps each 16-bit value a G.711 decoder can produce to the law
// that produces it: 'u' for µ-law only, 'a' for A-law only; values both
// produce (and 0, digital silence) are absent. A recording decodes every
// packet with its own payload type's law, so a run of samples shows which
// codec the caller sent.
var g711Only = func() map[int16]byte {
	m := map[int16]byte{}
	u, a := map[int16]bool{}, map[int16]bool{}
	for i := range 256 {
		u[media.ULawToLinear[i]] = true
		a[media.ALawToLinear[i]] = true
	}
	for v := range u {
		if !a[v] && v != 0 {
			m[v] = 'u'
		}
	}
	for v := range a {
		if !u[v] && v != 0 {
			m[v] = 'a'
		}
	}
	return m
}()

// TestRecordingCodecChangeMidCall: during a recorded call the caller
// switches from PCMU to PCMA with a re-INVITE and keeps speaking 440 Hz,
// now in PCMA. The gateway answers 200 with PCMA alone and from then on
// sends PCMA to the caller (the same stream: one SSRC, contiguous
// sequence numbers); the callee keeps PCMU and hears the caller's tone
// throughout. The recording's left channel holds the caller's 440 Hz
// before and after the switch, µ-law samples up to the switch and A-law
// samples after it (as many as were sent), with no silent stretch; the
// right channel holds the callee's 1 kHz throughout.
func TestRecordingCodecChangeMidCall(t *testing.T) {
	requireTools(t, "espeak-ng")
	callee := newToneCallee(t, media.PayloadPCMU, recCalleeFreq, recCalleeLevel)
	g := startGateway(t, gatewayOptions{Proxy: callee.addr(), Numbers: recordedNumber()})
	caller := newGoCaller(t)
	peer := newVoicePeer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	dlg, err := caller.call(ctx, g.sipAddr, ourNumber, audioSDP(peer.port(), media.PayloadPCMU, media.PayloadPCMA))
	if err != nil {
		t.Fatalf("call: %v (callee: %v)", err, callee.problems())
	}
	answeredAt := time.Now()
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	if !slices.Equal(answer.Formats, []uint8{media.PayloadPCMU}) {
		t.Fatalf("gateway answered the offer of PCMU and PCMA with formats %v, want [0] (PCMU, the first offered)", answer.Formats)
	}
	sender := startCodecSender(t, peer.conn, answer.Addr, media.PayloadPCMU, recCallerFreq, recCallerLevel)
	id := g.openCall(t, 5*time.Second)
	g.awaitRecording(t, id, 5*time.Second)

	// 1.5 s of talk in PCMU, both ways, with the recording running.
	calleeToneAfter := func(since time.Time, n int) func([]audioFrame) bool {
		return func(fs []audioFrame) bool {
			k := 0
			for _, f := range fs {
				if f.At.After(since) && f.tone(recCalleeFreq, 20) {
					k++
				}
			}
			return k >= n
		}
	}
	if err := peer.awaitFrames(ctx, calleeToneAfter(answeredAt, 75)); err != nil {
		t.Fatalf("the callee's tone did not reach the caller for 1.5 s: %v (callee: %v)", err, callee.problems())
	}

	// The switch: a re-INVITE offering PCMA alone.
	res, err := reinvite(ctx, dlg, reofferSDP(peer.port(), media.PayloadPCMA))
	if err != nil {
		t.Fatalf("%v", err)
	}
	switchedAt := time.Now()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("re-INVITE offering PCMA alone: %d %s, want 200: the gateway does not take a codec change mid-call", res.StatusCode, res.Reason)
	}
	reanswer, err := parseAudioSDP(res.Body())
	if err != nil {
		t.Fatalf("answer to the re-INVITE: %v\n%s", err, res.Body())
	}
	t.Logf("re-INVITE answered 200: audio at %s, formats %v (before: %s)", reanswer.Addr, reanswer.Formats, answer.Addr)
	if !slices.Equal(reanswer.Formats, []uint8{media.PayloadPCMA}) {
		t.Errorf("the re-INVITE's answer has formats %v, want [8] (PCMA, the one offered)", reanswer.Formats)
	}
	sender.switchTo(media.PayloadPCMA, reanswer.Addr)

	// 1.5 s of talk in PCMA: the gateway answers in PCMA too (RFC 3264
	// §6.1: it sends a format of the answer).
	err = peer.awaitArrivals(ctx, func(arr []rtpArrival) bool {
		n := 0
		for _, a := range arr {
			if a.At.After(switchedAt) && a.Header.PayloadType == media.PayloadPCMA && a.Frame != nil && a.Frame.tone(recCalleeFreq, 20) {
				n++
			}
		}
		return n >= 75
	})
	if err != nil {
		t.Errorf("the gateway did not send the callee's tone to the caller in PCMA for 1.5 s after the switch: %v", err)
		if err := peer.awaitFrames(ctx, calleeToneAfter(switchedAt, 75)); err != nil {
			t.Fatalf("the callee's tone stopped reaching the caller after the switch: %v", err)
		}
	}
	// The caller stops talking before hanging up: every packet it sent is
	// in the recording.
	sender.halt()
	hangupAt := time.Now()
	byeCtx, byeCancel := context.WithTimeout(ctx, 5*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	call := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, call, wantRecord("answered", "normal_clearing", "caller", 200))
	if leg, ok := call.leg("caller"); ok {
		t.Logf("the call record's caller leg codec: %s", leg.Codec)
	}
	sent, sendErrs := sender.counts()
	for _, err := range append(sendErrs, callee.problems()...) {
		t.Errorf("peer: %v", err)
	}
	t.Logf("the caller sent %d PCMU and %d PCMA packets; %s talk after the switch",
		sent[media.PayloadPCMU], sent[media.PayloadPCMA], hangupAt.Sub(switchedAt).Round(time.Millisecond))

	// What the caller received: one stream that turned PCMA for good.
	checkCallerStreamSwitch(t, peer.received(), answeredAt)

	// The callee stayed on PCMU (the gateway transcodes) and heard the
	// caller all along.
	if n := callee.inviteCount(); n != 1 {
		t.Errorf("the callee got %d INVITEs, want 1 (the caller's codec change is the gateway's business)", n)
	}
	calleeSamples, calleeTypes := callee.rtp.received()
	heard := countFrames(sampleFrames(calleeSamples), func(f audioFrame) bool { return f.tone(recCallerFreq, 20) })
	total := sent[media.PayloadPCMU] + sent[media.PayloadPCMA]
	t.Logf("the callee received packets per payload type %v, %d frames of the caller's tone of %d sent", calleeTypes, heard, total)
	if calleeTypes[media.PayloadPCMA] != 0 {
		t.Errorf("the callee, on PCMU, got %d PCMA packets", calleeTypes[media.PayloadPCMA])
	}
	if heard < total-5 {
		t.Errorf("the callee heard %d frames of the caller's tone, the caller sent %d", heard, total)
	}

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
	if rec.DroppedPackets != 0 {
		t.Errorf("recording dropped %d packets on an idle machine", rec.DroppedPackets)
	}
	consent, ok := consentLength(a)
	if !ok {
		t.Fatalf("the right channel never carries the callee's %.0f Hz tone (%s recorded)", recCalleeFreq, samplesDuration(len(a.Right)))
	}
	checkConsentPart(t, a, consent)
	checkCodecSwitchRecorded(t, a, consent, sent[media.PayloadPCMA])
}

// checkCallerStreamSwitch asserts that the gateway's RTP to the caller
// after answeredAt switched from PCMU to PCMA once and for all, within one
// stream: the same SSRC and the next sequence number across the switch.
func checkCallerStreamSwitch(t *testing.T, arrivals []rtpArrival, answeredAt time.Time) {
	t.Helper()
	var live []rtpArrival
	for _, a := range arrivals {
		if a.At.After(answeredAt) && (a.Header.PayloadType == media.PayloadPCMU || a.Header.PayloadType == media.PayloadPCMA) {
			live = append(live, a)
		}
	}
	first := slices.IndexFunc(live, func(a rtpArrival) bool { return a.Header.PayloadType == media.PayloadPCMA })
	if first <= 0 {
		t.Errorf("the caller received no PCMA from the gateway after the switch (or nothing before it): %d packets, first PCMA at %d", len(live), first)
		return
	}
	if n := slices.IndexFunc(live[first:], func(a rtpArrival) bool { return a.Header.PayloadType != media.PayloadPCMA }); n >= 0 {
		a := live[first+n]
		t.Errorf("the gateway sent payload type %d (seq %d) to the caller after it had switched to PCMA", a.Header.PayloadType, a.Header.SequenceNumber)
	}
	before, after := live[first-1].Header, live[first].Header
	t.Logf("the gateway's stream to the caller: PCMU seq %d then PCMA seq %d (SSRC %#x, %#x), %d packets before and %d after",
		before.SequenceNumber, after.SequenceNumber, before.SSRC, after.SSRC, first, len(live)-first)
	if after.SSRC != before.SSRC || after.SequenceNumber != before.SequenceNumber+1 {
		t.Errorf("the gateway's stream to the caller broke at the codec switch: PCMU SSRC %#x seq %d, then PCMA SSRC %#x seq %d; want the same SSRC and the next seq",
			before.SSRC, before.SequenceNumber, after.SSRC, after.SequenceNumber)
	}
}

// checkCodecSwitchRecorded asserts what the left channel of a recording
// (after consent samples of consent part) holds of a caller who sent
// 440 Hz in PCMU, then pcma packets of it in PCMA: µ-law samples, then
// A-law samples only, as many as sent; the tone throughout, across the
// switch too; and no silence longer than 100 ms. The right channel holds
// the callee's 1 kHz throughout.
func checkCodecSwitchRecorded(t *testing.T, a stereoAudio, consent, pcma int) {
	t.Helper()
	left := a.Left[consent:]
	firstNZ, lastU, firstA, lastA := -1, -1, -1, -1
	var nU, nA int
	for i, v := range left {
		if v != 0 && firstNZ < 0 {
			firstNZ = i
		}
		switch g711Only[v] {
		case 'u':
			nU++
			lastU = i
		case 'a':
			nA++
			lastA = i
			if firstA < 0 {
				firstA = i
			}
		}
	}
	at := func(i int) time.Duration { return samplesDuration(consent + i) }
	t.Logf("left channel after the consent (%s): first sound at %s, %d µ-law-only samples up to %s, %d A-law-only samples from %s to %s",
		samplesDuration(consent), at(firstNZ), nU, at(lastU), nA, at(firstA), at(lastA))
	if nU == 0 || nA == 0 {
		t.Fatalf("the left channel holds %d µ-law and %d A-law samples: want the caller's PCMU and then its PCMA", nU, nA)
	}
	if lastU > firstA {
		t.Errorf("µ-law samples at %s, after the first A-law sample at %s: the switch is not clean", at(lastU), at(firstA))
	}
	if before := samplesDuration(firstA - firstNZ); before < time.Second {
		t.Errorf("the caller's PCMU part of the recording lasts %s, want ≥ 1 s", before)
	}
	// Every PCMA packet is in the file: the A-law part spans them all.
	if span := lastA - firstA + 1; span < (pcma-2)*frameSamples || span > pcma*frameSamples {
		t.Errorf("the A-law part of the left channel spans %s, the caller sent %d PCMA packets (%s)",
			samplesDuration(span), pcma, time.Duration(pcma)*frameDuration)
	}
	// No silent stretch, around the switch or anywhere in the caller's
	// part: a 440 Hz tone at -20 dBFS decodes to 0 only at a zero
	// crossing, a sample at a time.
	run, longest, longestAt := 0, 0, 0
	for i := firstNZ; i <= lastA; i++ {
		if left[i] == 0 {
			run++
			if run > longest {
				longest, longestAt = run, i-run+1
			}
		} else {
			run = 0
		}
	}
	if samplesDuration(longest) > 100*time.Millisecond {
		t.Errorf("the left channel is silent for %s from %s (the switch is at %s): want no silence over 100 ms",
			samplesDuration(longest), at(longestAt), at(firstA))
	}
	// The tone, frame by frame: across the switch (half a second either
	// side, frames aligned on the switch) and over the whole call.
	from, to := max(firstNZ, firstA-25*frameSamples), min(lastA+1, firstA+25*frameSamples)
	from = firstA - (firstA-from)/frameSamples*frameSamples
	checkToneFrames(t, "left (caller) around the switch", left[from:to], recCallerFreq, recCallerLevel, recCalleeFreq, 0)
	const edge = 2 * frameSamples
	checkToneFrames(t, "left (caller)", left[firstNZ+edge:lastA+1-edge], recCallerFreq, recCallerLevel, recCalleeFreq, 2)
	checkToneFrames(t, "right (callee)", a.Right[consent+edge:len(a.Right)-edge], recCalleeFreq, recCalleeLevel, recCallerFreq, 2)
}
