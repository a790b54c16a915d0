package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"switchboard/internal/pacing"
	"switchboard/media"
)

// Pacing bounds of TestPromptPacing: a 20 ms G.711 stream whose packets
// leave on an absolute schedule arrive 20 ms apart within 2 ms (95th
// percentile: on a loaded 2-core CI machine the gateway or the test may be
// scheduled out for 10 ms a few times in 5 s), never two at once, never
// ahead of the schedule, and with a clock that neither gains nor loses.
const (
	paceInterval    = media.FrameDuration
	paceMaxP95      = 2 * time.Millisecond
	paceMinInterval = 5 * time.Millisecond
	paceMaxEarly    = 3 * time.Millisecond
	paceMaxDrift    = 200 * time.Microsecond // of the mean interval: 1%
	pacePackets     = 200
)

// paceGreeting is about 5 s of espeak-ng speech.
const paceGreeting = "Sorry we missed you. Please leave your name, your number and a short message after the tone."

// TestPromptPacing measures, with the kernel's receive timestamps, how the
// gateway paces a voicemail greeting to the caller: one packet every 20 ms
// (p95 deviation under 2 ms, no two packets within 5 ms, none ahead of the
// schedule, no drift), contiguous
// sequence numbers and timestamps advancing by 160 per packet on one SSRC.
// A prompt sent in bursts, or paced by a drifting timer, would overflow or
// starve the caller's jitter buffer.
func TestPromptPacing(t *testing.T) {
	requireTools(t, "espeak-ng")
	g := startGateway(t, gatewayOptions{Numbers: grVoicemailNumbers(paceGreeting)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := dialVoicemail(ctx, t, g)
	// The greeting ends where the beep starts.
	frames, beep, err := c.peer.awaitBeep(ctx)
	c.hangUp(ctx, t)
	if err != nil {
		t.Fatalf("no beep after the greeting: %v", err)
	}
	checkBeep(t, frames, beep)

	// Every packet the caller received up to the beep, with its kernel
	// arrival time: the greeting starts with the first one that carries
	// sound (before it the line sends silence).
	var stream []rtpArrival
	for _, a := range c.peer.received() {
		if a.Frame == nil {
			t.Fatalf("packet seq %d: payload type %d, not a 20 ms PCMU frame; the caller offered PCMU and telephone-event and sent no keys",
				a.Header.SequenceNumber, a.Header.PayloadType)
		}
		if a.Frame.Seq == frames[beep.Start].Seq {
			break
		}
		stream = append(stream, a)
	}
	first := slices.IndexFunc(stream, func(a rtpArrival) bool { return a.Frame.sound() })
	if first < 0 {
		t.Fatalf("no sound in the %d packets before the beep: no greeting", len(stream))
	}
	greeting := stream[first:]
	t.Logf("stream: %d packets before the greeting, %d packets (%d ms) of greeting before the beep",
		first, len(greeting), 20*len(greeting))
	if len(greeting) < pacePackets {
		t.Fatalf("the greeting spans %d packets before the beep, want at least %d to measure (a %q greeting is about 5 s)",
			len(greeting), pacePackets, paceGreeting)
	}

	at := make([]time.Time, len(greeting))
	for i, a := range greeting {
		at[i] = a.At
	}
	stats := pacing.Measure(at, paceInterval)
	t.Logf("greeting pacing (kernel receive timestamps): %s", stats)
	if stats.P95Deviation >= paceMaxP95 {
		t.Errorf("p95 |interval - 20 ms| = %v, want < %v", stats.P95Deviation, paceMaxP95)
	}
	if stats.MinInterval < paceMinInterval {
		t.Errorf("shortest interval %v, want none under %v (packets sent in a burst)", stats.MinInterval, paceMinInterval)
	}
	if stats.MaxEarly >= paceMaxEarly {
		t.Errorf("a packet came %v ahead of the schedule, want under %v (a burst or a fast clock)", stats.MaxEarly, paceMaxEarly)
	}
	if d := stats.Mean - paceInterval; d > paceMaxDrift || d < -paceMaxDrift {
		t.Errorf("mean interval %v, want 20 ms within %v (a drifting clock)", stats.Mean, paceMaxDrift)
	}
	if t.Failed() {
		// Where it went wrong: each off-beat interval with the packet's
		// lateness against the ideal schedule from the first packet, which
		// tells a one-off stall (one late packet, then back on time) from
		// drift or bursts.
		for i := 1; i < len(at); i++ {
			iv := at[i].Sub(at[i-1])
			if d := iv - paceInterval; d > time.Millisecond || d < -time.Millisecond {
				late := at[i].Sub(at[0]) - time.Duration(i)*paceInterval
				t.Logf("greeting packet %d (seq %d): interval %v, %v off the schedule", i, greeting[i].Header.SequenceNumber, iv, late)
			}
		}
	}

	// RFC 3550 §5.1: one SSRC, sequence numbers +1, and the timestamp
	// advancing by the 160 samples each 20 ms packet carries.
	seqGaps, tsGaps := 0, 0
	for i := 1; i < len(greeting); i++ {
		prev, cur := greeting[i-1].Header, greeting[i].Header
		if cur.SSRC != prev.SSRC {
			t.Errorf("greeting packet %d: SSRC %08x after %08x, want one stream", i, cur.SSRC, prev.SSRC)
		}
		if cur.SequenceNumber != prev.SequenceNumber+1 {
			if seqGaps++; seqGaps <= 5 {
				t.Errorf("greeting packet %d: sequence number %d after %d, want contiguous", i, cur.SequenceNumber, prev.SequenceNumber)
			}
		}
		if cur.Timestamp != prev.Timestamp+frameSamples {
			if tsGaps++; tsGaps <= 5 {
				t.Errorf("greeting packet %d: timestamp %d after %d, want +%d", i, cur.Timestamp, prev.Timestamp, frameSamples)
			}
		}
	}
	t.Logf("sequence numbers %d..%d, %d gaps; timestamps %d..%d, %d irregular steps",
		greeting[0].Header.SequenceNumber, greeting[len(greeting)-1].Header.SequenceNumber, seqGaps,
		greeting[0].Header.Timestamp, greeting[len(greeting)-1].Header.Timestamp, tsGaps)
	for _, err := range c.peer.sendProblems() {
		t.Errorf("caller: %v", err)
	}
}
