package media

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard/internal/pacing"
)

// lineRig is a Line on an endpoint whose far end is a phone on loopback.
type lineRig struct {
	ep *Endpoint
	ph *phone
	ln *Line
}

func newLineRig(t *testing.T, dir Direction, from StreamState) *lineRig {
	t.Helper()
	r := &lineRig{ep: openTestEndpoint(t, newTestPool(t)), ph: newPhone(t)}
	r.ep.SetRemote(r.ph.addr)
	ln, err := NewLine(r.ep, dir, from)
	if err != nil {
		t.Fatal(err)
	}
	r.ln = ln
	t.Cleanup(func() { ln.Release() })
	return r
}

// promptFrames returns n frames whose bytes all equal their index+1, so the
// receiver can tell which frame arrived.
func promptFrames(n int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		f := make([]byte, samplesPerFrame)
		for j := range f {
			f[j] = byte(i + 1)
		}
		frames[i] = f
	}
	return frames
}

func TestLinePlaysPromptThenSilenceAsOneStream(t *testing.T) {
	r := newLineRig(t, Direction{PayloadType: PayloadPCMU, DTMFType: 101}, StreamState{})
	frames := promptFrames(5)
	// Wait for the line's first (silence) packet so the prompt's frames are
	// known to follow it.
	first, _ := r.ph.recv()
	if !first.Marker || first.PayloadType != PayloadPCMU {
		t.Fatalf("first packet: marker=%v pt=%d, want marker and PT 0", first.Marker, first.PayloadType)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.ln.Play(ctx, frames); err != nil {
		t.Fatal(err)
	}
	prev := first
	var got []byte
	for len(got) < 7 {
		p, _ := r.ph.recv()
		if p.SSRC != first.SSRC || p.SequenceNumber != prev.SequenceNumber+1 || p.Timestamp != prev.Timestamp+samplesPerFrame || p.Marker {
			t.Fatalf("packet ssrc=%x seq=%d ts=%d marker=%v after ssrc=%x seq=%d ts=%d: not one continuous stream",
				p.SSRC, p.SequenceNumber, p.Timestamp, p.Marker, prev.SSRC, prev.SequenceNumber, prev.Timestamp)
		}
		if len(p.Payload) != samplesPerFrame {
			t.Fatalf("payload %d bytes, want %d", len(p.Payload), samplesPerFrame)
		}
		if p.Payload[0] != 0xff || len(got) > 0 { // skip silence before the prompt
			got = append(got, p.Payload[0])
		}
		prev = p
	}
	// The prompt's frames in order, then µ-law silence.
	want := []byte{1, 2, 3, 4, 5, 0xff, 0xff}
	if string(got) != string(want) {
		t.Fatalf("frames %v, want %v", got, want)
	}
}

func TestLinePacing(t *testing.T) {
	r := newLineRig(t, Direction{PayloadType: PayloadPCMA}, StreamState{})
	rx, err := pacing.Enable(r.ph.conn)
	if err != nil {
		t.Fatal(err)
	}
	r.ln.Start(promptFrames(100), true)
	var at []time.Time
	for range 151 {
		a, err := rx.Read(time.Now().Add(recvTimeout))
		if err != nil {
			t.Fatal(err)
		}
		at = append(at, a.At)
	}
	st := pacing.Measure(at[1:], FrameDuration) // the first is sent at once
	t.Logf("line pacing: %v", st)
	// Bursts would show as near-zero intervals and a mean off 20 ms; drift
	// as a mean off 20 ms. The per-packet deviation bound is asserted end to
	// end (e2e TestPromptPacing) where the issue sets it.
	if st.Mean < 19500*time.Microsecond || st.Mean > 20500*time.Microsecond {
		t.Fatalf("mean interval %v, want 20ms ± 0.5ms", st.Mean)
	}
	if st.MinInterval < 5*time.Millisecond {
		t.Fatalf("burst: two packets %v apart", st.MinInterval)
	}
}

func TestLineLoopAndStop(t *testing.T) {
	r := newLineRig(t, Direction{PayloadType: PayloadPCMU}, StreamState{})
	p := r.ln.Start(promptFrames(2), true)
	seen := map[byte]int{}
	for len(seen) < 2 || seen[1] < 2 {
		pkt, _ := r.ph.recv()
		seen[pkt.Payload[0]]++
	}
	r.ln.Stop(p)
	select {
	case <-p.Done():
	case <-time.After(recvTimeout):
		t.Fatal("stopped playback not done")
	}
	// After Stop the line sends silence (a frame or two may already be on the way).
	for i := 0; ; i++ {
		pkt, _ := r.ph.recv()
		if pkt.Payload[0] == 0xff {
			break
		}
		if i > 3 {
			t.Fatalf("still playing after Stop: %d", pkt.Payload[0])
		}
	}
}

func TestLinePlayCancelled(t *testing.T) {
	r := newLineRig(t, Direction{PayloadType: PayloadPCMU}, StreamState{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.ln.Play(ctx, promptFrames(500)) }() // 10 s
	r.ph.recv()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Play = %v, want context.Canceled", err)
		}
	case <-time.After(recvTimeout):
		t.Fatal("Play did not return when its context ended")
	}
}

// event builds an RFC 4733 telephone-event packet.
func event(t *testing.T, seq uint16, ts uint32, code byte, end bool, dur uint16) []byte {
	t.Helper()
	flags := byte(10) // volume -10 dBm0
	if end {
		flags |= 0x80
	}
	b, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: seq, Timestamp: ts, SSRC: 7},
		Payload: []byte{code, flags, byte(dur >> 8), byte(dur)},
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLineDigitsAndSink(t *testing.T) {
	r := newLineRig(t, Direction{PayloadType: PayloadPCMU, DTMFType: 101}, StreamState{})
	audio := make(chan []byte, 4)
	r.ln.SetSink(func(seq uint16, ts uint32, payload []byte) {
		audio <- append([]byte(nil), payload...)
	})
	s := &stream{ssrc: 7, seq: 100, ts: 8000, pt: PayloadPCMU}
	payload := make([]byte, samplesPerFrame)
	payload[0] = 0x42
	r.ph.send(r.ep.LocalAddr(), s.next(t, payload))
	select {
	case got := <-audio:
		if got[0] != 0x42 || len(got) != samplesPerFrame {
			t.Fatalf("sink got %d bytes starting %x", len(got), got[0])
		}
	case <-time.After(recvTimeout):
		t.Fatal("sink got no audio")
	}
	// '#' (event 11): three updates and three end packets, one timestamp
	// (RFC 4733 §2.5.1.4); then '5' with a new timestamp.
	for i, dur := range []uint16{160, 320, 480, 640, 640, 640} {
		r.ph.send(r.ep.LocalAddr(), event(t, uint16(200+i), 16000, 11, i >= 3, dur))
	}
	r.ph.send(r.ep.LocalAddr(), event(t, 206, 17600, 5, true, 400))
	for _, want := range []Digit{'#', '5'} {
		select {
		case d := <-r.ln.Digits():
			if d != want {
				t.Fatalf("digit %q, want %q", d, want)
			}
		case <-time.After(recvTimeout):
			t.Fatalf("no digit, want %q", want)
		}
	}
	select {
	case d := <-r.ln.Digits():
		t.Fatalf("extra digit %q: retransmitted end packets counted twice", d)
	default:
	}
}

func TestLineReleaseThenBridgeContinuesStream(t *testing.T) {
	pool := newTestPool(t)
	a, b := openTestEndpoint(t, pool), openTestEndpoint(t, pool)
	pa, pb := newPhone(t), newPhone(t)
	a.SetRemote(pa.addr)
	b.SetRemote(pb.addr)
	dir := Direction{PayloadType: PayloadPCMU}
	ln, err := NewLine(a, dir, StreamState{})
	if err != nil {
		t.Fatal(err)
	}
	var last *rtp.Packet
	for range 3 {
		last, _ = pa.recv()
	}
	st := ln.Release()
	if st.SSRC != last.SSRC || st.At.IsZero() {
		t.Fatalf("released state %+v, last packet ssrc=%x", st, last.SSRC)
	}
	// Drain a packet sent between our last read and Release.
	if st.Seq != last.SequenceNumber {
		last, _ = pa.recv()
	}
	br := NewBridge(a, b, dir, dir, nil)
	br.Continue(SideA, st)
	br.Start()
	defer br.Stop()
	// The port was handed over open: B's audio reaches A's far end, as the
	// next packet of the line's stream.
	s := &stream{ssrc: 99, seq: 5, ts: 1000, pt: PayloadPCMU}
	pb.send(b.LocalAddr(), s.next(t, pcmuSilence()))
	p, _ := pa.recv()
	if p.SSRC != st.SSRC || p.SequenceNumber != st.Seq+1 || !p.Marker {
		t.Fatalf("after the switch: ssrc=%x seq=%d marker=%v, want ssrc=%x seq=%d marker", p.SSRC, p.SequenceNumber, p.Marker, st.SSRC, st.Seq+1)
	}
	if adv := p.Timestamp - st.TS; adv < samplesPerFrame || adv > 8000 {
		t.Fatalf("timestamp advanced %d samples across the switch, want one frame up to the time that passed", adv)
	}
}

func TestBridgeDetachKeepsPortForLine(t *testing.T) {
	r := startRig(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMA}, false)
	s := &stream{ssrc: 1, seq: 1, ts: 1, pt: PayloadPCMA}
	r.pb.send(r.b.LocalAddr(), s.next(t, make([]byte, samplesPerFrame)))
	first, _ := r.pa.recv()
	st, err := r.br.Detach(SideA)
	if err != nil {
		t.Fatal(err)
	}
	if st.SSRC != first.SSRC || st.Seq != first.SequenceNumber {
		t.Fatalf("detached state %+v, last packet ssrc=%x seq=%d", st, first.SSRC, first.SequenceNumber)
	}
	if _, err := r.br.Detach(SideA); !errors.Is(err, ErrStopped) {
		t.Fatalf("second Detach = %v, want ErrStopped", err)
	}
	// B's port is closed; A's is open and a Line continues the stream.
	if err := r.b.WriteRTP(s.next(t, pcmuSilence())); err == nil {
		t.Fatal("side B's port still open after Detach")
	}
	ln, err := NewLine(r.a, Direction{PayloadType: PayloadPCMU}, st)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Release()
	p, _ := r.pa.recv()
	if p.SSRC != st.SSRC || p.SequenceNumber != st.Seq+1 || !p.Marker {
		t.Fatalf("line after detach: ssrc=%x seq=%d marker=%v, want ssrc=%x seq=%d marker", p.SSRC, p.SequenceNumber, p.Marker, st.SSRC, st.Seq+1)
	}
}

// noDeadlinePort is a Port that cannot interrupt reads.
type noDeadlinePort struct{ Port }

func TestNewLineNeedsDeadlines(t *testing.T) {
	if _, err := NewLine(noDeadlinePort{}, Direction{PayloadType: PayloadPCMU}, StreamState{}); !errors.Is(err, ErrNoDeadline) {
		t.Fatalf("NewLine = %v, want ErrNoDeadline", err)
	}
}
