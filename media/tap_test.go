package media

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
)

// copyTap keeps a copy of every tapped packet.
type copyTap struct {
	mu   sync.Mutex
	from []Side
	pkts [][]byte
}

func (t *copyTap) TapRTP(from Side, pkt []byte, _ int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.from = append(t.from, from)
	t.pkts = append(t.pkts, append([]byte(nil), pkt...))
}

// ringTap copies packets into preallocated slots, as a recorder's bounded
// queue does: tapping itself must add no allocation to the relay.
type ringTap struct {
	ring [64][maxPacket]byte
	n    int
}

func (t *ringTap) TapRTP(_ Side, pkt []byte, _ int64) {
	copy(t.ring[t.n%len(t.ring)][:], pkt)
	t.n++
}

func TestTapSeesPacketsAsTheLegsSentThem(t *testing.T) {
	// A speaks PCMU, B PCMA: the bridge transcodes and rewrites; the tap
	// must get each leg's packet untouched.
	br, farA, farB := newRelayBridge(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMA})
	tap := &copyTap{}
	br.SetTap(tap)
	sa := &stream{ssrc: 11, seq: 100, ts: 8000, pt: PayloadPCMU}
	sb := &stream{ssrc: 22, seq: 500, ts: 16000, pt: PayloadPCMA}
	a := sa.next(t, pcmuSilence())
	aCopy := append([]byte(nil), a...)
	if _, _, v := br.relay(SideA, a, farA, monoNow()); v != verdictSend {
		t.Fatalf("A verdict %v", v)
	}
	bpkt := sb.next(t, make([]byte, samplesPerFrame))
	if _, _, v := br.relay(SideB, bpkt, farB, monoNow()); v != verdictSend {
		t.Fatalf("B verdict %v", v)
	}
	// A foreign source and junk are not tapped.
	br.relay(SideA, sa.next(t, pcmuSilence()), netip.MustParseAddrPort("127.0.0.1:9"), monoNow())
	br.relay(SideA, []byte{1, 2, 3}, farA, monoNow())

	if len(tap.pkts) != 2 || tap.from[0] != SideA || tap.from[1] != SideB {
		t.Fatalf("tapped %d packets from %v, want A then B", len(tap.pkts), tap.from)
	}
	if string(tap.pkts[0]) != string(aCopy) {
		t.Errorf("A's tapped packet was changed by the relay")
	}
	if got := binary.BigEndian.Uint32(tap.pkts[1][offSSRC:]); got != 22 || tap.pkts[1][1]&ptMask != PayloadPCMA {
		t.Errorf("B's tapped packet has SSRC %d PT %d, want the leg's own 22 and PCMA", got, tap.pkts[1][1]&ptMask)
	}
	br.SetTap(nil)
	br.relay(SideA, sa.next(t, pcmuSilence()), farA, monoNow())
	if len(tap.pkts) != 2 {
		t.Errorf("tapped after SetTap(nil)")
	}
}

func TestTapAddsNoAllocation(t *testing.T) {
	br, farA, _ := newRelayBridge(t, Direction{PayloadType: PayloadPCMU}, Direction{PayloadType: PayloadPCMA})
	tap := &ringTap{}
	br.SetTap(tap)
	s := &stream{ssrc: 3, pt: PayloadPCMU}
	tmpl := s.next(t, pcmuSilence())
	buf := make([]byte, len(tmpl))
	var seq uint16
	allocs := testing.AllocsPerRun(1000, func() {
		copy(buf, tmpl)
		seq++
		binary.BigEndian.PutUint16(buf[2:], seq)
		br.relay(SideA, buf, farA, monoNow())
	})
	if allocs != 0 || tap.n < 1000 {
		t.Fatalf("relay with a tap: %.1f allocations per packet (want 0), %d packets tapped", allocs, tap.n)
	}
}
