package media

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// newRelayBridge returns a bridge whose relay is driven directly by the
// test (no goroutines), with the far ends at fixed addresses.
func newRelayBridge(t testing.TB, aDir, bDir Direction) (*Bridge, netip.AddrPort, netip.AddrPort) {
	t.Helper()
	pool := newTestPool(t)
	a, b := openTestEndpoint(t, pool), openTestEndpoint(t, pool)
	farA := netip.MustParseAddrPort("127.0.0.1:40000")
	farB := netip.MustParseAddrPort("127.0.0.1:40002")
	a.SetRemote(farA)
	b.SetRemote(farB)
	return NewBridge(a, b, aDir, bDir, new(Stats)), farA, farB
}

func parse(t testing.TB, b []byte) *rtp.Packet {
	t.Helper()
	var p rtp.Packet
	if err := p.Unmarshal(append([]byte(nil), b...)); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestRelayVerdicts(t *testing.T) {
	pcmu := Direction{PayloadType: PayloadPCMU, DTMFType: 101}
	pcma := Direction{PayloadType: PayloadPCMA, DTMFType: 96}
	noDTMF := Direction{PayloadType: PayloadPCMU}
	g722 := Direction{PayloadType: 9}
	mk := func(pt uint8, payload []byte) []byte {
		s := &stream{ssrc: 7, seq: 1, ts: 1, pt: pt}
		return s.next(t, payload)
	}
	audio := pcmuSilence()
	rtcpRR := []byte{0x81, 201, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	v1 := mk(0, audio)
	v1[0] = 0x40

	tests := []struct {
		name       string
		aDir, bDir Direction
		pkt        []byte
		want       verdict
		wantPT     uint8
	}{
		{"same codec", pcmu, pcmu, mk(0, audio), verdictSend, 0},
		{"PCMU to PCMA", pcmu, pcma, mk(0, audio), verdictSend, 8},
		{"PCMA to PCMU", pcma, pcmu, mk(8, audio), verdictSend, 0},
		{"DTMF 101 to 96", pcmu, pcma, mk(101, []byte{1, 0, 0, 160}), verdictSend, 96},
		{"DTMF to a side without DTMF", pcmu, noDTMF, mk(101, []byte{1, 0, 0, 160}), verdictDrop, 0},
		{"other PT", pcmu, pcmu, mk(13, []byte{40}), verdictDrop, 0},
		{"other side's PT", pcmu, pcma, mk(8, audio), verdictDrop, 0},
		{"same unknown codec on both sides", g722, g722, mk(9, audio), verdictSend, 9},
		{"no transcoder between codecs", g722, pcmu, mk(9, audio), verdictDrop, 0},
		{"RTCP on the RTP port", pcmu, pcmu, rtcpRR, verdictDrop, 0},
		{"short", pcmu, pcmu, []byte{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}, verdictDrop, 0},
		{"version 1", pcmu, pcmu, v1, verdictDrop, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br, farA, farB := newRelayBridge(t, tt.aDir, tt.bDir)
			in := append([]byte(nil), tt.pkt...)
			out, dst, v := br.relay(SideA, in, farA, monoNow())
			if v != tt.want {
				t.Fatalf("verdict = %v, want %v", v, tt.want)
			}
			if v != verdictSend {
				return
			}
			if dst != farB {
				t.Fatalf("dst = %v, want %v", dst, farB)
			}
			if got := parse(t, out).PayloadType; got != tt.wantPT {
				t.Fatalf("PT = %d, want %d", got, tt.wantPT)
			}
		})
	}
}

func TestRelayTranscodesInPlace(t *testing.T) {
	br, farA, _ := newRelayBridge(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMA})
	payload := make([]byte, 256)
	for i := range payload {
		payload[i] = byte(i)
	}
	s := &stream{ssrc: 1, pt: 0}
	pkt := s.next(t, payload)
	out, _, v := br.relay(SideA, pkt, farA, monoNow())
	if v != verdictSend || len(out) != len(pkt) {
		t.Fatalf("verdict %v, len %d -> %d", v, len(pkt), len(out))
	}
	got := parse(t, out).Payload
	for i := range got {
		if got[i] != ULawToALaw[i] {
			t.Fatalf("byte %d: %#x, want %#x", i, got[i], ULawToALaw[i])
		}
	}
}

// outHeader is what the relay wrote.
type outHeader struct {
	seq    uint16
	ts     uint32
	ssrc   uint32
	marker bool
}

func header(b []byte) outHeader {
	return outHeader{
		seq:    binary.BigEndian.Uint16(b[2:]),
		ts:     binary.BigEndian.Uint32(b[4:]),
		ssrc:   binary.BigEndian.Uint32(b[8:]),
		marker: b[1]&0x80 != 0,
	}
}

func TestRelayStreamContinuity(t *testing.T) {
	br, farA, _ := newRelayBridge(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMU})
	const frame = 20 * time.Millisecond
	now := int64(time.Hour) // any monotonic base
	send := func(s *stream, at int64) outHeader {
		t.Helper()
		out, _, v := br.relay(SideA, s.next(t, pcmuSilence()), farA, at)
		if v != verdictSend {
			t.Fatalf("verdict %v", v)
		}
		return header(out)
	}

	first := &stream{ssrc: 0x1111, seq: 65530, ts: 4294967000, pt: 0} // wraps on the way
	var hs []outHeader
	for i := range 10 {
		hs = append(hs, send(first, now+int64(i)*int64(frame)))
	}
	ssrc := br.OutputSSRC(SideB)
	for i, h := range hs {
		if h.ssrc != ssrc {
			t.Fatalf("packet %d: SSRC %#x, want bridge's %#x", i, h.ssrc, ssrc)
		}
		if h.marker != (i == 0) {
			t.Fatalf("packet %d: marker %v", i, h.marker)
		}
		if i > 0 && (h.seq != hs[i-1].seq+1 || h.ts != hs[i-1].ts+160) {
			t.Fatalf("packet %d: seq/ts %d/%d after %d/%d", i, h.seq, h.ts, hs[i-1].seq, hs[i-1].ts)
		}
	}
	last := hs[9]
	lastAt := now + 9*int64(frame)

	tests := []struct {
		name    string
		after   time.Duration // since the previous output packet
		wantAdv uint32        // timestamp advance
	}{
		{"new source 100 ms later", 100 * time.Millisecond, 800},
		{"new source 5 ms later advances one frame", 5 * time.Millisecond, 160},
		{"new source 1 s later", time.Second, 8000},
	}
	for i, tt := range tests {
		src := &stream{ssrc: 0x2222 + uint32(i), seq: uint16(1000 * i), ts: uint32(77777 * i), pt: 0}
		at := lastAt + int64(tt.after)
		h := send(src, at)
		if h.ssrc != ssrc || !h.marker || h.seq != last.seq+1 || h.ts != last.ts+tt.wantAdv {
			t.Fatalf("%s: got %+v, want seq %d ts %d marker, SSRC %#x", tt.name, h, last.seq+1, last.ts+tt.wantAdv, ssrc)
		}
		// The new source's next packet follows without a marker.
		h2 := send(src, at+int64(frame))
		if h2.marker || h2.seq != h.seq+1 || h2.ts != h.ts+160 {
			t.Fatalf("%s: follow-up %+v after %+v", tt.name, h2, h)
		}
		last, lastAt = h2, at+int64(frame)
	}

	// Reordering within a source is preserved, and a new source continues
	// after the highest sequence number sent, not the last one.
	src := &stream{ssrc: 0x3333, seq: 500, ts: 0, pt: 0}
	h1 := send(src, lastAt+int64(frame))
	h2 := send(src, lastAt+2*int64(frame))
	src.seq, src.ts = 500, 0 // resend the first (a late duplicate)
	h3 := send(src, lastAt+3*int64(frame))
	if h3.seq != h1.seq || h3.ts != h1.ts {
		t.Fatalf("late packet rewritten to %+v, want seq/ts of %+v", h3, h1)
	}
	h4 := send(&stream{ssrc: 0x4444, pt: 0}, lastAt+4*int64(frame))
	if h4.seq != h2.seq+1 {
		t.Fatalf("new source after reordering: seq %d, want %d", h4.seq, h2.seq+1)
	}
}

func TestRelayDTMFSharesTimestamp(t *testing.T) {
	br, farA, _ := newRelayBridge(t,
		Direction{PayloadType: PayloadPCMU, DTMFType: 101},
		Direction{PayloadType: PayloadPCMA, DTMFType: 96})
	now := monoNow()
	audio := &stream{ssrc: 5, seq: 10, ts: 8000, pt: 0}
	br.relay(SideA, audio.next(t, pcmuSilence()), farA, now)
	// RFC 4733 §2.5: one event, several packets, one timestamp.
	var ts []uint32
	for i, dur := range []uint16{160, 320, 480, 480} {
		pkt, err := (&rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: audio.seq + uint16(i),
				Timestamp: audio.ts, SSRC: 5, Marker: i == 0},
			Payload: []byte{5, 10, byte(dur >> 8), byte(dur)},
		}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out, _, v := br.relay(SideA, pkt, farA, now+int64(i+1)*int64(20*time.Millisecond))
		if v != verdictSend {
			t.Fatalf("event packet %d: %v", i, v)
		}
		p := parse(t, out)
		if p.PayloadType != 96 || p.Marker != (i == 0) {
			t.Fatalf("event packet %d: PT %d marker %v", i, p.PayloadType, p.Marker)
		}
		ts = append(ts, p.Timestamp)
	}
	for i := range ts {
		if ts[i] != ts[0] {
			t.Fatalf("event timestamps %v differ", ts)
		}
	}
}

func TestRelayHoldResumesContinuously(t *testing.T) {
	br, farA, _ := newRelayBridge(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMU})
	s := &stream{ssrc: 9, pt: 0}
	now := int64(time.Hour)
	out, _, _ := br.relay(SideA, s.next(t, pcmuSilence()), farA, now)
	before := header(out)

	br.SetSendEnabled(SideB, false)
	for i := 1; i <= 3; i++ {
		if _, _, v := br.relay(SideA, s.next(t, pcmuSilence()), farA, now+int64(i)*int64(20*time.Millisecond)); v != verdictHold {
			t.Fatalf("during hold: %v, want hold", v)
		}
	}
	br.SetSendEnabled(SideB, true)
	at := now + int64(2*time.Second)
	out, _, v := br.relay(SideA, s.next(t, pcmuSilence()), farA, at)
	if v != verdictSend {
		t.Fatalf("after hold: %v", v)
	}
	h := header(out)
	if !h.marker || h.seq != before.seq+1 || h.ts != before.ts+16000 {
		t.Fatalf("after a 2 s hold: %+v, want seq %d ts %d marker", h, before.seq+1, before.ts+16000)
	}
}

// TestRelayZeroAllocs proves the per-packet path allocates nothing: header
// checks, source check, transcoding, rewriting and stats.
func TestRelayZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    Direction
	}{
		{"passthrough", Direction{PayloadType: PayloadPCMU, DTMFType: 101}},
		{"transcode", Direction{PayloadType: PayloadPCMA, DTMFType: 96}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br, farA, _ := newRelayBridge(t, Direction{PayloadType: PayloadPCMU, DTMFType: 101}, tc.b)
			s := &stream{ssrc: 3, pt: 0}
			tmpl := s.next(t, pcmuSilence())
			buf := make([]byte, len(tmpl))
			var seq uint16
			var failed bool
			allocs := testing.AllocsPerRun(1000, func() {
				copy(buf, tmpl)
				seq++
				binary.BigEndian.PutUint16(buf[2:], seq)
				start := monoNow()
				out, _, v := br.relay(SideA, buf, farA, start)
				if v != verdictSend {
					failed = true
				}
				br.stats.recordRelay(len(out), time.Duration(monoNow()-start))
			})
			if failed {
				t.Fatal("relay did not send")
			}
			if allocs != 0 {
				t.Fatalf("relay allocates %v times per packet, want 0", allocs)
			}
		})
	}
}

func BenchmarkRelayPacket(b *testing.B) {
	for _, tc := range []struct {
		name string
		dir  Direction
	}{
		{"passthrough", Direction{PayloadType: PayloadPCMU}},
		{"transcode", Direction{PayloadType: PayloadPCMA}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			br, farA, _ := newRelayBridge(b, Direction{PayloadType: PayloadPCMU}, tc.dir)
			s := &stream{ssrc: 3, pt: 0}
			tmpl := s.next(b, pcmuSilence())
			buf := make([]byte, len(tmpl))
			b.ReportAllocs()
			b.SetBytes(int64(len(tmpl)))
			var seq uint16
			for b.Loop() {
				copy(buf, tmpl)
				seq++
				binary.BigEndian.PutUint16(buf[2:], seq)
				start := monoNow()
				out, _, _ := br.relay(SideA, buf, farA, start)
				br.stats.recordRelay(len(out), time.Duration(monoNow()-start))
			}
		})
	}
}

func TestRelayTouchesLastPacket(t *testing.T) {
	br, farA, farB := newRelayBridge(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMU})
	now := monoNow() + int64(5*time.Second)
	s := &stream{ssrc: 1, pt: 13} // comfort noise: not relayed, but proves the far end is alive
	if _, _, v := br.relay(SideA, s.next(t, []byte{40}), farA, now); v != verdictDrop {
		t.Fatalf("CN verdict %v, want drop", v)
	}
	if got, want := br.LastPacket(), epoch.Add(time.Duration(now)); !got.Equal(want) {
		t.Fatalf("LastPacket = %v, want %v", got, want)
	}
	// Junk and foreign sources do not keep a dead call alive.
	later := now + int64(time.Second)
	br.relay(SideA, []byte{1, 2, 3}, farA, later)
	br.relay(SideA, s.next(t, []byte{40}), farB, later) // A is latched to farA
	if got, want := br.LastPacket(), epoch.Add(time.Duration(now)); !got.Equal(want) {
		t.Fatalf("LastPacket moved to %v on junk, want %v", got, want)
	}
}

// TestRelayJunkDoesNotLatch: an invalid datagram arriving first must not
// become the latched source that real RTP is then rejected against.
func TestRelayJunkDoesNotLatch(t *testing.T) {
	br, farA, _ := newRelayBridge(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMU})
	scanner := netip.MustParseAddrPort("127.0.0.1:9")
	if _, _, v := br.relay(SideA, []byte("GET / HTTP/1.0\r\n\r\n"), scanner, monoNow()); v != verdictDrop {
		t.Fatalf("junk verdict %v, want drop", v)
	}
	s := &stream{ssrc: 1, pt: 0}
	if _, _, v := br.relay(SideA, s.next(t, pcmuSilence()), farA, monoNow()); v != verdictSend {
		t.Fatalf("far end's first RTP after junk: %v, want send", v)
	}
	if got := br.ep[SideA].Destination(); got != farA {
		t.Fatalf("latched to %v, want %v", got, farA)
	}
}
