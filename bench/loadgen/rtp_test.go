package main

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// waitFor polls cond until it holds or the deadline passes: the counters
// it reads are bumped by other goroutines without any notification.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// echoPeer stands in for a gateway port: it hands every packet it gets to
// the test and sends it back to where it came from.
func echoPeer(t *testing.T) (netip.AddrPort, <-chan []byte) {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	got := make(chan []byte, 1024)
	go func() {
		buf := make([]byte, 1500)
		for {
			n, src, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				close(got)
				return
			}
			select {
			case got <- append([]byte(nil), buf[:n]...):
			default:
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], src)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort(), got
}

func startEngine(t *testing.T, sockets int, stamp bool) *rtpEngine {
	t.Helper()
	e, err := newRTPEngine(loopback, sockets, stamp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.start(ctx)
	t.Cleanup(func() { cancel(); e.stop() })
	return e
}

func TestEngineSendsPacedRTP(t *testing.T) {
	e := startEngine(t, 1, true)
	peer, got := echoPeer(t)
	const ssrc = 0x11223344
	s := e.add(e.socket(), peer, ptPCMU, ssrc)

	var first time.Time
	var prevSeq uint16
	var prevTS uint32
	const n = 11
	for i := range n {
		var p []byte
		select {
		case p = <-got:
		case <-time.After(5 * time.Second):
			t.Fatalf("packet %d did not arrive", i)
		}
		if i == 0 {
			first = time.Now()
		}
		if len(p) != packetLen {
			t.Fatalf("packet %d: %d bytes, want %d", i, len(p), packetLen)
		}
		if p[0] != 0x80 {
			t.Errorf("packet %d: first byte %#x, want version 2 and no flags", i, p[0])
		}
		if marker, pt := p[1]&0x80 != 0, p[1]&0x7F; pt != ptPCMU || marker != (i == 0) {
			t.Errorf("packet %d: PT %d marker %v; want PT 0, marker only on the first", i, pt, marker)
		}
		seq, ts := binary.BigEndian.Uint16(p[2:]), binary.BigEndian.Uint32(p[4:])
		if i > 0 && (seq != prevSeq+1 || ts != prevTS+frameSamples) {
			t.Errorf("packet %d: seq %d ts %d after %d/%d; want +1 and +%d", i, seq, ts, prevSeq, prevTS, frameSamples)
		}
		prevSeq, prevTS = seq, ts
		if got := binary.BigEndian.Uint32(p[8:]); got != ssrc {
			t.Errorf("packet %d: SSRC %#x, want %#x", i, got, ssrc)
		}
		for j := rtpHeaderLen + stampLen; j < packetLen; j++ {
			if p[j] != 0xFF {
				t.Fatalf("packet %d: payload byte %d = %#x, want μ-law silence 0xFF", i, j, p[j])
			}
		}
	}
	// Ten intervals of 20 ms; generous bounds for a loaded machine.
	if d := time.Since(first); d < 150*time.Millisecond || d > 600*time.Millisecond {
		t.Errorf("%d packets took %v, want about %v", n, d, (n-1)*frameInterval)
	}
	// The echoes come back from the peer's port, which names the stream.
	waitFor(t, "echoes", func() bool { return s.recv.Load() >= n })
	if c := e.latency.cumulative().count(); c < n {
		t.Errorf("latency samples = %v, want >= %d", c, n)
	}
	if p99 := e.latency.cumulative().quantile(0.99); p99 <= 0 || p99 > 1 {
		t.Errorf("loopback echo p99 = %v s, want within (0, 1]", p99)
	}
	if c := e.snapshot(); c.Stray != 0 || c.SendErrors != 0 {
		t.Errorf("counters = %+v, want no stray packets or send errors", c)
	}
}

func TestEngineRemoveStopsStream(t *testing.T) {
	e := startEngine(t, 2, false)
	peerA, gotA := echoPeer(t)
	peerB, _ := echoPeer(t)
	a := e.add(e.socket(), peerA, ptPCMA, 1)
	select {
	case p := <-gotA:
		if p[rtpHeaderLen] != 0xD5 {
			t.Errorf("PCMA payload byte %#x, want A-law silence 0xD5", p[rtpHeaderLen])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no packet before remove")
	}
	e.remove(a)
	e.remove(a) // idempotent
	if n := e.streams(); n != 0 {
		t.Fatalf("streams after remove = %d, want 0", n)
	}
	sentAtRemove := a.sent.Load()
	// Another stream sending three packets means the pacer has gone round
	// every slot at least twice since the removal.
	b := e.add(e.socket(), peerB, ptPCMU, 2)
	waitFor(t, "the second stream", func() bool { return b.sent.Load() >= 3 })
	if got := a.sent.Load(); got != sentAtRemove {
		t.Errorf("removed stream sent %d more packets", got-sentAtRemove)
	}
}

func TestEngineSlotBookkeeping(t *testing.T) {
	e, err := newRTPEngine(loopback, 1, false) // not started: no pacer
	if err != nil {
		t.Fatal(err)
	}
	defer e.stop()
	var ss []*stream
	for i := range pacerSlots + 2 {
		ss = append(ss, e.add(e.socket(), netip.AddrPortFrom(loopback, uint16(30000+i)), ptPCMU, uint32(i)))
	}
	// Round robin: stream 0 and stream pacerSlots share slot 0.
	if ss[0].slot != 0 || ss[pacerSlots].slot != 0 || ss[1].slot != 1 {
		t.Fatalf("slots = %d, %d, %d; want 0, 0, 1", ss[0].slot, ss[pacerSlots].slot, ss[1].slot)
	}
	e.remove(ss[0])
	if list := e.slots[0]; len(list) != 1 || list[0] != ss[pacerSlots] || ss[pacerSlots].pos != 0 {
		t.Fatalf("slot 0 after removing its first stream: %d streams, moved stream at pos %d", len(list), ss[pacerSlots].pos)
	}
	if e.byPort[30000].Load() != nil {
		t.Error("removed stream still owns its gateway port")
	}
	if e.byPort[30001].Load() != ss[1] {
		t.Error("stream 1 does not own its gateway port")
	}
	if got, want := e.streams(), pacerSlots+1; got != want {
		t.Errorf("streams = %d, want %d", got, want)
	}
}

func TestFirstSlot(t *testing.T) {
	tests := []struct{ next, due, want int64 }{
		{0, 0, 0},
		{5, 7, 5},              // a short delay: send all three slots
		{0, pacerSlots - 1, 0}, // exactly one period behind: still all
		{0, pacerSlots, 1},     // more than a period: skip the oldest
		{10, 10 + 5*pacerSlots, 10 + 4*pacerSlots + 1}, // long stall: last period only
	}
	for _, tt := range tests {
		if got := firstSlot(tt.next, tt.due); got != tt.want {
			t.Errorf("firstSlot(%d, %d) = %d, want %d", tt.next, tt.due, got, tt.want)
		}
	}
}

func TestEngineCountsStray(t *testing.T) {
	e := startEngine(t, 1, false)
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := make([]byte, packetLen)
	pkt[0] = 0x80
	if _, err := c.WriteToUDPAddrPort(pkt, e.socks[0].LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a stray packet", func() bool { return e.snapshot().Stray == 1 })
	if got := e.snapshot().Recv; got != 0 {
		t.Errorf("recv = %d, want 0: the packet came from no stream's port", got)
	}
}

func TestEngineSetPayload(t *testing.T) {
	e := startEngine(t, 1, false)
	if err := e.setPayload(ptPCMU, make([]byte, 10)); err == nil {
		t.Error("setPayload took a 10-byte payload")
	}
	frame := make([]byte, frameSamples)
	for i := range frame {
		frame[i] = byte(i)
	}
	if err := e.setPayload(ptPCMU, frame); err != nil {
		t.Fatal(err)
	}
	frame[0] = 0xAA // the engine keeps its own copy
	peerU, gotU := echoPeer(t)
	peerA, gotA := echoPeer(t)
	e.add(e.socket(), peerU, ptPCMU, 1)
	e.add(e.socket(), peerA, ptPCMA, 2)
	for i := range 2 {
		select {
		case p := <-gotU:
			for j, b := range p[rtpHeaderLen:] {
				if b != byte(j) {
					t.Fatalf("PCMU packet %d: payload byte %d = %#x, want %#x", i, j, b, byte(j))
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no PCMU packet")
		}
	}
	select {
	case p := <-gotA:
		if p[rtpHeaderLen] != 0xD5 || p[packetLen-1] != 0xD5 {
			t.Errorf("PCMA payload %#x...%#x, want A-law silence: no payload was set for PCMA", p[rtpHeaderLen], p[packetLen-1])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no PCMA packet")
	}
}
