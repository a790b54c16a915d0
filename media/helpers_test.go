package media

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// recvTimeout bounds every wait for a packet that must arrive.
const recvTimeout = 5 * time.Second

// newTestPool returns a pool of 100 pairs at a random base, so tests of
// engineers running in parallel on this machine rarely meet (and when they
// do, OpenEndpoint skips busy ports).
func newTestPool(t testing.TB) *PortPool {
	t.Helper()
	base := 20000 + 2*rand.IntN(15000)
	p, err := NewPortPool(base, base+199)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func openTestEndpoint(t testing.TB, pool *PortPool) *Endpoint {
	t.Helper()
	e, err := OpenEndpoint(loopback, pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// phone is a plain UDP socket standing in for a far end.
type phone struct {
	t    testing.TB
	conn *net.UDPConn
	addr netip.AddrPort
	buf  []byte
}

func newPhone(t testing.TB) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopback, 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort(), buf: make([]byte, 2048)}
}

func (p *phone) send(to netip.AddrPort, pkt []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(pkt, to); err != nil {
		p.t.Fatal(err)
	}
}

// recv waits for the next packet and parses it as RTP.
func (p *phone) recv() (*rtp.Packet, netip.AddrPort) {
	p.t.Helper()
	if err := p.conn.SetReadDeadline(time.Now().Add(recvTimeout)); err != nil {
		p.t.Fatal(err)
	}
	n, from, err := p.conn.ReadFromUDPAddrPort(p.buf)
	if err != nil {
		p.t.Fatalf("phone %v: no packet: %v", p.addr, err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(append([]byte(nil), p.buf[:n]...)); err != nil {
		p.t.Fatalf("phone %v: received non-RTP: %v", p.addr, err)
	}
	return &pkt, from
}

// expectNothing asserts that no packet is queued. Callers first await the
// bridge's verdict on the packet in question, and a loopback send queues
// the datagram before it returns, so anything sent is already here.
func (p *phone) expectNothing() {
	p.t.Helper()
	if err := p.conn.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		p.t.Fatal(err)
	}
	n, from, err := p.conn.ReadFromUDPAddrPort(p.buf)
	if err == nil {
		p.t.Fatalf("phone %v: unexpected %d-byte packet from %v", p.addr, n, from)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		p.t.Fatal(err)
	}
}

// stream builds the RTP packets one far end sends.
type stream struct {
	ssrc uint32
	seq  uint16
	ts   uint32
	pt   uint8
}

// next returns the next packet of the stream with payload, advancing seq by
// one and ts by len(payload) samples (one byte per sample for G.711).
func (s *stream) next(t testing.TB, payload []byte) []byte {
	t.Helper()
	b, err := (&rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: s.pt, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc},
		Payload: payload,
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s.seq++
	s.ts += uint32(len(payload))
	return b
}

// traceEvent is one verdict reported by a bridge's reader goroutine.
type traceEvent struct {
	from Side
	v    verdict
}

// bridgeRig is a running bridge between two phones on loopback.
type bridgeRig struct {
	t      testing.TB
	pool   *PortPool
	stats  *Stats
	a, b   *Endpoint
	pa, pb *phone
	br     *Bridge
	events chan traceEvent
}

// newBridgeRig starts a bridge that reports every verdict on r.events.
func newBridgeRig(t testing.TB, aDir, bDir Direction) *bridgeRig {
	t.Helper()
	return startRig(t, aDir, bDir, true)
}

// startRig starts a bridge rig; untraced rigs run the relay exactly as in
// production (for allocation counts and benchmarks).
func startRig(t testing.TB, aDir, bDir Direction, traced bool) *bridgeRig {
	t.Helper()
	r := &bridgeRig{t: t, pool: newTestPool(t), stats: new(Stats), events: make(chan traceEvent, 4096)}
	r.a, r.b = openTestEndpoint(t, r.pool), openTestEndpoint(t, r.pool)
	r.pa, r.pb = newPhone(t), newPhone(t)
	r.a.SetRemote(r.pa.addr)
	r.b.SetRemote(r.pb.addr)
	r.br = NewBridge(r.a, r.b, aDir, bDir, r.stats)
	if traced {
		r.br.trace = func(from Side, v verdict) { r.events <- traceEvent{from, v} }
	}
	r.br.Start()
	t.Cleanup(r.br.Stop)
	return r
}

// await waits for the bridge's verdict on the next packet from side from.
func (r *bridgeRig) await(from Side, want verdict) {
	r.t.Helper()
	select {
	case ev := <-r.events:
		if ev.from != from || ev.v != want {
			r.t.Fatalf("verdict %v from %v, want %v from %v", ev.v, ev.from, want, from)
		}
	case <-time.After(recvTimeout):
		r.t.Fatalf("no verdict from %v", from)
	}
}

func (v verdict) String() string {
	switch v {
	case verdictSend:
		return "send"
	case verdictHold:
		return "hold"
	case verdictDrop:
		return "drop"
	}
	return "verdict?"
}

func pcmuSilence() []byte {
	b := make([]byte, samplesPerFrame)
	for i := range b {
		b[i] = 0xff
	}
	return b
}
