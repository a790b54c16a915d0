package media

import (
	"bytes"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"switchboard/internal/testaudio"
)

var (
	dirPCMU = Direction{PayloadType: PayloadPCMU, DTMFType: 101}
	dirPCMA = Direction{PayloadType: PayloadPCMA, DTMFType: 96}
)

func TestSideString(t *testing.T) {
	for _, tt := range []struct {
		s    Side
		want string
	}{{SideA, "A"}, {SideB, "B"}, {Side(7), "Side(7)"}} {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("String = %q, want %q", got, tt.want)
		}
	}
	if SideA.Other() != SideB || SideB.Other() != SideA {
		t.Error("Other is not the opposite side")
	}
}

// checkContinuous asserts that pkts form one stream: the bridge's SSRC,
// consecutive sequence numbers, timestamps 160 apart, marker only first.
func checkContinuous(t *testing.T, pkts []*rtp.Packet, ssrc uint32) {
	t.Helper()
	for i, p := range pkts {
		if p.SSRC != ssrc {
			t.Fatalf("packet %d: SSRC %#x, want %#x", i, p.SSRC, ssrc)
		}
		if p.Marker != (i == 0) {
			t.Fatalf("packet %d: marker %v", i, p.Marker)
		}
		if i > 0 && (p.SequenceNumber != pkts[i-1].SequenceNumber+1 || p.Timestamp != pkts[i-1].Timestamp+160) {
			t.Fatalf("packet %d: seq/ts %d/%d after %d/%d", i, p.SequenceNumber, p.Timestamp,
				pkts[i-1].SequenceNumber, pkts[i-1].Timestamp)
		}
	}
}

func TestBridgeRelaysBothWays(t *testing.T) {
	r := newBridgeRig(t, dirPCMU, dirPCMU)
	if r.br.LastPacket().IsZero() {
		t.Fatal("LastPacket is zero after Start")
	}
	started := r.br.LastPacket()
	sa := &stream{ssrc: 0xaaaa, seq: 100, ts: 1000, pt: 0}
	sb := &stream{ssrc: 0xbbbb, seq: 60000, ts: 5, pt: 0}
	var atB, atA []*rtp.Packet
	const n = 20
	for i := range n {
		payload := bytes.Repeat([]byte{byte(i)}, 160)
		r.pa.send(r.a.LocalAddr(), sa.next(t, payload))
		p, from := r.pb.recv()
		if from != r.b.LocalAddr() {
			t.Fatalf("B's packet came from %v, want the B endpoint %v (symmetric RTP)", from, r.b.LocalAddr())
		}
		if p.SSRC == sa.ssrc || !bytes.Equal(p.Payload, payload) || p.PayloadType != 0 {
			t.Fatalf("A->B packet %d: SSRC %#x PT %d payload changed %v", i, p.SSRC, p.PayloadType, !bytes.Equal(p.Payload, payload))
		}
		atB = append(atB, p)

		r.pb.send(r.b.LocalAddr(), sb.next(t, payload))
		p, _ = r.pa.recv()
		atA = append(atA, p)
	}
	checkContinuous(t, atB, r.br.OutputSSRC(SideB))
	checkContinuous(t, atA, r.br.OutputSSRC(SideA))

	// A packet can reach the far end before its counters are updated; the
	// verdicts come after them.
	for range 2 * n {
		select {
		case <-r.events:
		case <-time.After(recvTimeout):
			t.Fatal("missing verdicts")
		}
	}
	aToB, bToA, dropped := r.br.Counters()
	if aToB != n || bToA != n || dropped != 0 {
		t.Fatalf("counters %d/%d/%d, want %d/%d/0", aToB, bToA, dropped, n, n)
	}
	if r.stats.Relayed() != 2*n || r.stats.Bytes() != 2*n*172 || r.stats.Dropped() != 0 {
		t.Fatalf("stats relayed %d bytes %d dropped %d", r.stats.Relayed(), r.stats.Bytes(), r.stats.Dropped())
	}
	if _, _, _, count := r.stats.LatencyBuckets(); count != 2*n {
		t.Fatalf("latency samples %d, want %d", count, 2*n)
	}
	if p50 := r.stats.LatencyQuantile(0.5); p50 <= 0 || p50 > 100*time.Millisecond {
		t.Fatalf("p50 latency %v out of range", p50)
	}
	if r.br.LastPacket().Before(started) {
		t.Fatalf("LastPacket %v went backwards from %v", r.br.LastPacket(), started)
	}
}

func TestBridgeLastPacketStartsAtStart(t *testing.T) {
	pool := newTestPool(t)
	br := NewBridge(openTestEndpoint(t, pool), openTestEndpoint(t, pool), dirPCMU, dirPCMU, nil)
	if !br.LastPacket().IsZero() {
		t.Fatal("LastPacket before Start is not zero")
	}
	before := time.Now()
	br.Start()
	t.Cleanup(br.Stop)
	if lp := br.LastPacket(); lp.Before(before.Add(-time.Millisecond)) {
		t.Fatalf("LastPacket %v before Start %v", lp, before)
	}
}

func TestBridgeTranscodesTone(t *testing.T) {
	r := newBridgeRig(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMA})
	const level = -6.0
	var phase float64
	var sent, gotAtB []int16
	sa := &stream{ssrc: 1, seq: 1, ts: 1, pt: PayloadPCMU}
	for range 50 { // one second of 20 ms frames
		frame := testaudio.Sine(1000, 8000, 160, testaudio.AmplitudeForDBFS(level), &phase)
		sent = append(sent, frame...)
		payload := make([]byte, len(frame))
		for i, s := range frame {
			payload[i] = LinearToULaw(s)
		}
		r.pa.send(r.a.LocalAddr(), sa.next(t, payload))
		p, _ := r.pb.recv()
		if p.PayloadType != PayloadPCMA || len(p.Payload) != 160 {
			t.Fatalf("B got PT %d with %d bytes, want PCMA with 160", p.PayloadType, len(p.Payload))
		}
		for _, c := range p.Payload {
			gotAtB = append(gotAtB, ALawToLinear[c])
		}
	}
	want := testaudio.ToneLevelDBFS(sent, 8000, 1000)
	if got := testaudio.ToneLevelDBFS(gotAtB, 8000, 1000); math.Abs(got-want) > 0.5 {
		t.Fatalf("1 kHz at B: %.2f dBFS, sent %.2f dBFS", got, want)
	}
	if f := testaudio.DominantFrequency(gotAtB, 8000, 200, 3800, 10); math.Abs(f-1000) > 10 {
		t.Fatalf("dominant frequency at B %v Hz, want 1000", f)
	}

	// The other way: PCMA from B arrives at A as PCMU.
	sb := &stream{ssrc: 2, pt: PayloadPCMA}
	payload := make([]byte, 160)
	for i, s := range sent[:160] {
		payload[i] = LinearToALaw(s)
	}
	r.pb.send(r.b.LocalAddr(), sb.next(t, payload))
	p, _ := r.pa.recv()
	if p.PayloadType != PayloadPCMU {
		t.Fatalf("A got PT %d, want PCMU", p.PayloadType)
	}
	for i, c := range p.Payload {
		if c != ALawToULaw[payload[i]] {
			t.Fatalf("byte %d: %#x, want %#x", i, c, ALawToULaw[payload[i]])
		}
	}

	// A re-INVITE moves B to PCMU: no more transcoding toward B.
	r.br.SetDirection(SideB, Direction{PayloadType: PayloadPCMU})
	orig := bytes.Repeat([]byte{0x12, 0x34}, 80)
	r.pa.send(r.a.LocalAddr(), sa.next(t, orig))
	p, _ = r.pb.recv()
	if p.PayloadType != PayloadPCMU || !bytes.Equal(p.Payload, orig) {
		t.Fatalf("after SetDirection: PT %d, payload unchanged %v", p.PayloadType, bytes.Equal(p.Payload, orig))
	}
}

func TestBridgeSSRCSwitchKeepsStreamContinuous(t *testing.T) {
	r := newBridgeRig(t, dirPCMU, dirPCMU)
	announcement := &stream{ssrc: 0x1234, seq: 7, ts: 999, pt: 0}
	caller := &stream{ssrc: 0x5678, seq: 40000, ts: 123456789, pt: 0}
	var got []*rtp.Packet
	for _, s := range []*stream{announcement, announcement, announcement, caller, caller, caller} {
		r.pa.send(r.a.LocalAddr(), s.next(t, pcmuSilence()))
		p, _ := r.pb.recv()
		got = append(got, p)
	}
	ssrc := r.br.OutputSSRC(SideB)
	for i, p := range got {
		if p.SSRC != ssrc {
			t.Fatalf("packet %d: SSRC %#x, want %#x", i, p.SSRC, ssrc)
		}
		if i > 0 && p.SequenceNumber != got[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, p.SequenceNumber, got[i-1].SequenceNumber)
		}
		if wantMarker := i == 0 || i == 3; p.Marker != wantMarker {
			t.Fatalf("packet %d: marker %v, want %v", i, p.Marker, wantMarker)
		}
	}
	if adv := got[3].Timestamp - got[2].Timestamp; adv < 160 || adv > 8000*uint32(recvTimeout/time.Second) {
		t.Fatalf("timestamp advance at the switch = %d, want >= 160 and bounded", adv)
	}
	if got[4].Timestamp != got[3].Timestamp+160 {
		t.Fatalf("after the switch ts %d, want %d", got[4].Timestamp, got[3].Timestamp+160)
	}
}

func dtmfPacket(t *testing.T, pt uint8, seq uint16, ts uint32, marker bool, end bool) []byte {
	t.Helper()
	flags := byte(10) // volume
	if end {
		flags |= 0x80
	}
	b, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: 0xd7, Marker: marker},
		Payload: []byte{5, flags, 1, 64}, // event 5, duration 320
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBridgeDTMF(t *testing.T) {
	t.Run("101 on A maps to 96 on B and back", func(t *testing.T) {
		r := newBridgeRig(t, dirPCMU, Direction{PayloadType: PayloadPCMU, DTMFType: 96})
		var ts []uint32
		for i := range 4 {
			r.pa.send(r.a.LocalAddr(), dtmfPacket(t, 101, uint16(10+i), 8000, i == 0, i == 3))
			p, _ := r.pb.recv()
			if p.PayloadType != 96 || p.Payload[0] != 5 {
				t.Fatalf("event packet %d at B: PT %d event %d", i, p.PayloadType, p.Payload[0])
			}
			ts = append(ts, p.Timestamp)
		}
		if len(slices.Compact(slices.Clone(ts))) != 1 {
			t.Fatalf("one event's packets carry timestamps %v, want one (RFC 4733 §2.5)", ts)
		}
		r.pb.send(r.b.LocalAddr(), dtmfPacket(t, 96, 1, 1, true, false))
		if p, _ := r.pa.recv(); p.PayloadType != 101 {
			t.Fatalf("B->A event PT %d, want 101", p.PayloadType)
		}
	})
	t.Run("dropped toward a side without telephone-event", func(t *testing.T) {
		r := newBridgeRig(t, dirPCMU, Direction{PayloadType: PayloadPCMU})
		r.pa.send(r.a.LocalAddr(), dtmfPacket(t, 101, 1, 1, true, false))
		r.await(SideA, verdictDrop)
		s := &stream{ssrc: 0xd7, seq: 2, ts: 1, pt: 0}
		r.pa.send(r.a.LocalAddr(), s.next(t, pcmuSilence()))
		if p, _ := r.pb.recv(); p.PayloadType != 0 {
			t.Fatalf("B got PT %d first, want the audio packet", p.PayloadType)
		}
		if _, _, dropped := r.br.Counters(); dropped != 1 {
			t.Fatalf("dropped = %d, want 1", dropped)
		}
	})
}

func TestBridgeDropsJunk(t *testing.T) {
	r := newBridgeRig(t, dirPCMU, dirPCMU)
	s := &stream{ssrc: 3, seq: 1, ts: 1, pt: 0}
	valid := s.next(t, pcmuSilence())
	with := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	junk := map[string][]byte{
		"short":           valid[:11],
		"empty":           {},
		"version 0":       with(func(b []byte) []byte { b[0] &^= 0xc0; return b }),
		"CSRC overrun":    with(func(b []byte) []byte { b[0] |= 0x0f; return b[:40] }),
		"ext overrun":     with(func(b []byte) []byte { b[0] |= 0x10; b[14], b[15] = 0xff, 0xff; return b }),
		"padding overrun": with(func(b []byte) []byte { b[0] |= 0x20; b[len(b)-1] = 255; return b }),
		"RTCP SR":         {0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"RTCP BYE":        {0x81, 203, 0, 1, 0, 0, 0, 1},
		"unknown PT":      with(func(b []byte) []byte { b[1] = 18; return b }),
		"comfort noise":   with(func(b []byte) []byte { b[1] = 13; return b[:13] }),
		"oversize":        append(append([]byte(nil), valid...), make([]byte, maxPacket)...),
	}
	for name, pkt := range junk {
		r.pa.send(r.a.LocalAddr(), pkt)
		select {
		case ev := <-r.events:
			if ev.v != verdictDrop {
				t.Fatalf("%s: verdict %v, want drop", name, ev.v)
			}
		case <-time.After(recvTimeout):
			t.Fatalf("%s: no verdict", name)
		}
	}
	r.pa.send(r.a.LocalAddr(), valid)
	p, _ := r.pb.recv()
	if p.PayloadType != 0 || len(p.Payload) != 160 {
		t.Fatalf("first packet at B is not the valid one: PT %d len %d", p.PayloadType, len(p.Payload))
	}
	r.await(SideA, verdictSend) // its stats are recorded before the verdict
	if _, _, dropped := r.br.Counters(); dropped != uint64(len(junk)) {
		t.Fatalf("bridge dropped %d, want %d", dropped, len(junk))
	}
	if r.stats.Dropped() != uint64(len(junk)) || r.stats.Relayed() != 1 {
		t.Fatalf("stats dropped %d relayed %d, want %d and 1", r.stats.Dropped(), r.stats.Relayed(), len(junk))
	}
}

func TestBridgeSymmetricLatching(t *testing.T) {
	r := newBridgeRig(t, dirPCMU, dirPCMU)
	// SDP said port P (r.pa), but the far end is behind a NAT and its
	// packets come from Q.
	q, intruder := newPhone(t), newPhone(t)
	sq := &stream{ssrc: 0x51, seq: 1, ts: 1, pt: 0}
	q.send(r.a.LocalAddr(), sq.next(t, pcmuSilence()))
	if p, _ := r.pb.recv(); p.SSRC != r.br.OutputSSRC(SideB) {
		t.Fatalf("Q's packet reached B with SSRC %#x", p.SSRC)
	}
	if got := r.a.Destination(); got != q.addr {
		t.Fatalf("A sends to %v, want the latched %v", got, q.addr)
	}

	// Replies from B go to Q, not to the SDP address P.
	sb := &stream{ssrc: 0xb0, pt: 0}
	r.pb.send(r.b.LocalAddr(), sb.next(t, pcmuSilence()))
	if _, from := q.recv(); from != r.a.LocalAddr() {
		t.Fatalf("Q got the reply from %v, want %v", from, r.a.LocalAddr())
	}
	r.pa.expectNothing()

	// A third source is dropped; Q's next packet (queued after it) is the
	// first thing B sees.
	si := &stream{ssrc: 0x66, seq: 1, ts: 1, pt: 0}
	intruder.send(r.a.LocalAddr(), si.next(t, bytes.Repeat([]byte{0x11}, 160)))
	q.send(r.a.LocalAddr(), sq.next(t, bytes.Repeat([]byte{0x22}, 160)))
	p, _ := r.pb.recv()
	if p.Payload[0] != 0x22 {
		t.Fatalf("B got payload %#x first, want Q's 0x22 (intruder's packet relayed)", p.Payload[0])
	}
	if _, _, dropped := r.br.Counters(); dropped != 1 {
		t.Fatalf("dropped = %d, want 1", dropped)
	}

	// A re-INVITE moves the far end to P: un-latched, P is accepted.
	r.a.SetRemote(r.pa.addr)
	sp := &stream{ssrc: 0x77, pt: 0}
	r.pa.send(r.a.LocalAddr(), sp.next(t, bytes.Repeat([]byte{0x33}, 160)))
	if p, _ := r.pb.recv(); p.Payload[0] != 0x33 || !p.Marker {
		t.Fatalf("after SetRemote: payload %#x marker %v, want P's 0x33 with marker", p.Payload[0], p.Marker)
	}
	if got := r.a.Destination(); got != r.pa.addr {
		t.Fatalf("A sends to %v, want %v", got, r.pa.addr)
	}
}

func TestBridgeHold(t *testing.T) {
	tests := []struct {
		name   string
		hold   func(r *bridgeRig)
		resume func(r *bridgeRig)
	}{
		{
			"SDP address 0.0.0.0 (RFC 3264 §8.4)",
			func(r *bridgeRig) { r.b.SetRemote(netip.AddrPortFrom(netip.IPv4Unspecified(), r.pb.addr.Port())) },
			func(r *bridgeRig) { r.b.SetRemote(r.pb.addr) },
		},
		{
			"send disabled (sendonly/inactive)",
			func(r *bridgeRig) { r.br.SetSendEnabled(SideB, false) },
			func(r *bridgeRig) { r.br.SetSendEnabled(SideB, true) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newBridgeRig(t, dirPCMU, dirPCMU)
			s := &stream{ssrc: 1, pt: 0}
			r.pa.send(r.a.LocalAddr(), s.next(t, pcmuSilence()))
			before, _ := r.pb.recv()
			r.await(SideA, verdictSend)

			tt.hold(r)
			for range 3 {
				r.pa.send(r.a.LocalAddr(), s.next(t, pcmuSilence()))
				r.await(SideA, verdictHold)
			}
			r.pb.expectNothing()
			if _, _, dropped := r.br.Counters(); dropped != 0 {
				t.Fatalf("held packets counted as dropped: %d", dropped)
			}

			tt.resume(r)
			r.pa.send(r.a.LocalAddr(), s.next(t, pcmuSilence()))
			after, _ := r.pb.recv()
			if after.SequenceNumber != before.SequenceNumber+1 || !after.Marker || after.Timestamp-before.Timestamp < 160 {
				t.Fatalf("resumed with seq %d ts %d marker %v after seq %d ts %d",
					after.SequenceNumber, after.Timestamp, after.Marker, before.SequenceNumber, before.Timestamp)
			}
		})
	}
}

func TestBridgeStop(t *testing.T) {
	pool := newTestPool(t)
	a, b := openTestEndpoint(t, pool), openTestEndpoint(t, pool)
	ports := []int{a.LocalPort(), b.LocalPort()}
	br := NewBridge(a, b, dirPCMU, dirPCMU, nil)
	br.Start()
	br.Start() // no second pair of goroutines

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(br.Stop) // concurrent Stops all return after the readers exit
	}
	wg.Wait()
	br.Stop()
	br.Start() // after Stop: nothing

	if got := pool.Available(); got != pool.Size() {
		t.Fatalf("Available = %d after Stop, want all %d", got, pool.Size())
	}
	for _, p := range ports {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			t.Fatalf("port %d still bound after Stop: %v", p, err)
		}
		c.Close()
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close after Stop = %v", err)
	}
	if got := pool.Available(); got != pool.Size() {
		t.Fatalf("Available = %d after extra Close, want %d", got, pool.Size())
	}
}

func TestBridgeStopWithoutStart(t *testing.T) {
	pool := newTestPool(t)
	br := NewBridge(openTestEndpoint(t, pool), openTestEndpoint(t, pool), dirPCMU, dirPCMU, nil)
	br.Stop()
	if got := pool.Available(); got != pool.Size() {
		t.Fatalf("Available = %d, want %d", got, pool.Size())
	}
}

// TestBridgeLoopbackZeroAllocs counts every allocation in the process while
// packets go phone A -> bridge -> phone B over real sockets: the bridge's
// reader goroutine must allocate nothing per packet either.
func TestBridgeLoopbackZeroAllocs(t *testing.T) {
	r := startRig(t, dirPCMU, dirPCMA, false)
	s := &stream{ssrc: 1, pt: 0}
	pkt := s.next(t, pcmuSilence())
	dst := r.a.LocalAddr()
	buf := make([]byte, 2048)
	if err := r.pb.conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var seq uint16
	var ioErr error
	roundTrip := func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		if _, err := r.pa.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
			ioErr = err
			return
		}
		if _, _, err := r.pb.conn.ReadFromUDPAddrPort(buf); err != nil {
			ioErr = err
		}
	}
	allocs := testing.AllocsPerRun(500, roundTrip)
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per relayed packet, want 0", allocs)
	}
}

func BenchmarkBridgeLoopback(b *testing.B) {
	r := startRig(b, dirPCMU, dirPCMA, false)
	s := &stream{ssrc: 1, pt: 0}
	pkt := s.next(b, pcmuSilence())
	dst := r.a.LocalAddr()
	buf := make([]byte, 2048)
	if err := r.pb.conn.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<16)
	var seq uint16
	b.ReportAllocs()
	for b.Loop() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		t0 := time.Now()
		if _, err := r.pa.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.pb.conn.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.50), "e2e-p50-µs")
	b.ReportMetric(q(0.99), "e2e-p99-µs")
	b.ReportMetric(float64(r.stats.LatencyQuantile(0.50).Nanoseconds())/1e3, "relay-p50-µs")
	b.ReportMetric(float64(r.stats.LatencyQuantile(0.99).Nanoseconds())/1e3, "relay-p99-µs")
}
