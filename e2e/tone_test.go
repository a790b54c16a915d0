package e2e

import (
	"context"
	"math"
	"testing"
	"time"

	"switchboard/internal/testaudio"
	"switchboard/media"
)

// Tone parameters of TestToneBothWays.
const (
	toneFreq  = 1000.0 // Hz
	toneLevel = -10.0  // dBFS
	// skipSamples drops the first 200 ms of received audio: the stream's
	// start (codec switch-over, first packets) is not what we measure.
	skipSamples = 200 * media.ClockRate / 1000
	// measureSamples is the stretch analysed after that: one second.
	measureSamples = media.ClockRate
)

// TestToneBothWays proves audio crosses the gateway intact in both
// directions while it transcodes: the caller speaks PCMU, the callee answers
// PCMA only, and each side must hear the other's 1 kHz tone at -10 dBFS
// within 1 dB.
func TestToneBothWays(t *testing.T) {
	callee := newToneCallee(t, media.PayloadPCMA, toneFreq, toneLevel)
	g := startGateway(t, gatewayOptions{Proxy: callee.addr()})
	caller := newGoCaller(t)
	callerRTP := newRTPPeer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dlg, err := caller.call(ctx, g.sipAddr, ourNumber, audioSDP(callerRTP.port(), media.PayloadPCMU))
	if err != nil {
		t.Fatalf("call through the gateway: %v (callee: %v)", err, callee.problems())
	}
	answer, err := parseAudioSDP(dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("gateway's answer: %v\n%s", err, dlg.InviteResponse.Body())
	}
	if len(answer.Formats) == 0 || answer.Formats[0] != media.PayloadPCMU {
		t.Fatalf("gateway answered payload types %v to a PCMU-only offer, want PCMU (0) first", answer.Formats)
	}
	select {
	case <-callee.answered:
	case <-ctx.Done():
		t.Fatalf("callee never saw its 200 ACKed: %v", callee.problems())
	}

	stopTone := callerRTP.playTone(ctx, t, answer.Addr, media.PayloadPCMU, toneFreq, toneLevel)

	need := skipSamples + measureSamples + 800 // and 100 ms to spare
	err = waitFor(ctx, 10*time.Second, func() bool {
		return callee.rtp.sampleCount() >= need && callerRTP.sampleCount() >= need
	})
	stopTone()
	if err != nil {
		t.Errorf("audio did not arrive: callee got %d samples, caller got %d, want %d each",
			callee.rtp.sampleCount(), callerRTP.sampleCount(), need)
	}

	byeCtx, byeCancel := context.WithTimeout(ctx, 10*time.Second)
	defer byeCancel()
	if err := dlg.Bye(byeCtx); err != nil {
		t.Errorf("caller's BYE: %v", err)
	}
	select {
	case <-callee.byeGot:
	case <-byeCtx.Done():
		t.Errorf("the callee never got the BYE")
	}
	for _, err := range callee.problems() {
		t.Errorf("callee: %v", err)
	}

	if n := callee.inviteCount(); n != 1 {
		t.Errorf("the callee got %d INVITEs, want 1", n)
	}
	offer := callee.offered()
	t.Logf("gateway's offer to the callee: %s payload types %v", offer.Addr, offer.Formats)

	// The callee spoke PCMA and must have been sent PCMA; the caller PCMU.
	// Each must hear the gateway from the address the gateway put in its SDP:
	// trunks behind NAT rely on symmetric RTP (RFC 4961).
	for _, side := range []struct {
		name    string
		peer    *rtpPeer
		wantPT  uint8
		gateway string
	}{
		{"callee (PCMA)", callee.rtp, media.PayloadPCMA, offer.Addr.String()},
		{"caller (PCMU)", callerRTP, media.PayloadPCMU, answer.Addr.String()},
	} {
		samples, byType := side.peer.received()
		t.Logf("%s received %d samples, packets by payload type %v", side.name, len(samples), byType)
		if src := side.peer.sources(); len(src) != 1 || src[0] != side.gateway {
			t.Errorf("%s received RTP from %v, want only from %s (the address in the gateway's SDP)", side.name, src, side.gateway)
		}
		for pt, n := range byType {
			if pt != side.wantPT {
				t.Errorf("%s received %d packets of payload type %d, want only %d", side.name, n, pt, side.wantPT)
			}
		}
		if len(samples) < skipSamples+measureSamples {
			continue // already reported above
		}
		mid := samples[skipSamples : skipSamples+measureSamples]
		freq := testaudio.DominantFrequency(mid, media.ClockRate, 200, 3400, 10)
		level := testaudio.ToneLevelDBFS(mid, media.ClockRate, toneFreq)
		t.Logf("%s hears %.0f Hz at %.2f dBFS (1 kHz level), %.2f dBFS RMS", side.name, freq, level, testaudio.RMSDBFS(mid))
		if math.Abs(freq-toneFreq) > 20 {
			t.Errorf("%s: dominant frequency %.0f Hz, want %.0f Hz", side.name, freq, toneFreq)
		}
		if math.Abs(level-toneLevel) > 1 {
			t.Errorf("%s: 1 kHz level %.2f dBFS, want %.1f ± 1 dB", side.name, level, toneLevel)
		}
	}

	rec := g.waitEndedCall(t, 10*time.Second)
	checkRecord(t, rec, wantRecord("answered", "normal_clearing", "caller", 0))
	if l, _ := rec.leg("caller"); l.Codec != "PCMU" {
		t.Errorf("caller leg codec %q, want PCMU", l.Codec)
	}
	if l, ok := rec.leg("callee"); !ok || l.Codec != "PCMA" {
		t.Errorf("callee leg %+v, want codec PCMA", l)
	}
}
