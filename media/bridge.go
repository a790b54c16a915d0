package media

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Side names one of the two endpoints of a Bridge.
type Side int

const (
	// SideA is the first endpoint given to NewBridge.
	SideA Side = iota
	// SideB is the second endpoint given to NewBridge.
	SideB
)

// String returns "A" or "B".
func (s Side) String() string {
	switch s {
	case SideA:
		return "A"
	case SideB:
		return "B"
	}
	return "Side(" + strconv.Itoa(int(s)) + ")"
}

// Other returns the opposite side.
func (s Side) Other() Side { return s ^ 1 }

// Direction is what one side of a bridge speaks, as negotiated in its SDP.
type Direction struct {
	// PayloadType is the audio codec's payload type (PayloadPCMU or
	// PayloadPCMA; any other type is relayed only to a side using the same).
	PayloadType uint8
	// DTMFType is the RFC 4733 telephone-event payload type, 0 for none.
	DTMFType uint8
}

// packDirections packs both sides' directions into one word so the relay
// reads them with a single atomic load.
func packDirections(a, b Direction) uint32 {
	return uint32(a.PayloadType) | uint32(a.DTMFType)<<8 | uint32(b.PayloadType)<<16 | uint32(b.DTMFType)<<24
}

func unpackDirection(packed uint32, side Side) Direction {
	v := packed >> (16 * uint(side))
	return Direction{PayloadType: uint8(v), DTMFType: uint8(v >> 8)}
}

// maxPacket is the largest RTP packet relayed: an Ethernet MTU. G.711 at
// 20 ms is 172 bytes; anything larger than this is not a voice packet.
const maxPacket = 1500

// epoch anchors the monotonic clock the relay uses (int64 ns since epoch).
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// outSide is the per-direction state, padded so the two directions, written
// by two goroutines on every packet, do not share a cache line.
type outSide struct {
	outStream
	relayed atomic.Uint64 // packets sent toward this side
	dropped atomic.Uint64 // packets received from the other side and dropped
	_       [64]byte
}

// Bridge relays RTP between two ports, A and B, for the length of a call. Each far end sees one continuous stream from the bridge's own SSRC
// even when the source behind it changes (announcement, then the other
// party). G.711 µ-law and A-law are transcoded in place when the sides
// differ, and RFC 4733 events are relayed with each side's payload type.
//
// A side that is a UDP *Endpoint takes a fast path: the bridge reads its
// socket directly, so it sees each datagram's source for symmetric RTP
// latching (and counts foreign packets as drops), and knows when the far
// end is on hold. Any other Port (a WebRTC peer) is driven through
// ReadRTP/WriteRTP.
//
// The bridge owns its ports: Stop closes them, which releases their
// sockets.
type Bridge struct {
	port        [2]Port
	ep          [2]*Endpoint // port[i] when it is a UDP endpoint, else nil
	stats       *Stats
	dirs        atomic.Uint32
	sendEnabled [2]atomic.Bool
	last        atomic.Int64 // monotonic ns of the newest packet, 0 = none
	out         [2]outSide   // indexed by the side the stream goes to

	// tap, when set, gets a copy of every valid packet (SetTap).
	tap atomic.Pointer[Tap]

	// trace, when set (tests only), is called after each packet's verdict.
	trace func(from Side, v verdict)

	mu        sync.Mutex
	started   bool
	stopped   bool
	detaching atomic.Bool // Detach is stopping the readers; the kept port stays open
	stopOnce  sync.Once
	wg        sync.WaitGroup
}

// NewBridge returns a bridge between a and b, where side A speaks aDir and
// side B speaks bDir. stats is shared by the bridges of the process; nil
// gives the bridge private statistics. Call Start to begin relaying.
func NewBridge(a, b Port, aDir, bDir Direction, stats *Stats) *Bridge {
	if stats == nil {
		stats = new(Stats)
	}
	br := &Bridge{port: [2]Port{a, b}, stats: stats}
	for i, p := range br.port {
		br.ep[i], _ = p.(*Endpoint)
	}
	br.dirs.Store(packDirections(aDir, bDir))
	for i := range br.out {
		br.sendEnabled[i].Store(true)
		o := &br.out[i].outStream
		o.ssrc = rand.Uint32()
		o.initSeq = uint16(rand.Uint32())
		o.initTS = rand.Uint32()
	}
	// Two streams of one bridge must not share an SSRC: a receiver on a
	// conference or a recorder tapping both would take them for one.
	for br.out[1].ssrc == br.out[0].ssrc {
		br.out[1].ssrc = rand.Uint32()
	}
	return br
}

// OutputSSRC returns the SSRC of the stream the bridge sends toward side.
func (b *Bridge) OutputSSRC(side Side) uint32 { return b.out[side].ssrc }

// Tap receives every valid RTP packet a bridge relays, as the leg sent it
// (before the bridge rewrites its header or transcodes it), with the side
// it came from and its arrival time (monotonic ns). It runs on the relay
// path, so it must neither block nor allocate, and must copy what it keeps
// before returning: the buffer is reused for the next packet. A recorder
// copies the packet into a bounded queue and does its work elsewhere.
type Tap interface {
	TapRTP(from Side, pkt []byte, at int64)
}

// SetTap sets (or with nil removes) the bridge's tap. It is safe while the
// bridge runs; packets relayed after it returns are tapped.
func (b *Bridge) SetTap(t Tap) {
	if t == nil {
		b.tap.Store(nil)
		return
	}
	b.tap.Store(&t)
}

// Continue makes the stream the bridge sends toward side continue st (a
// Line's prompt before the bridge took over), so the far end sees one
// stream: the same SSRC and contiguous sequence numbers. Call it before
// Start; a zero st changes nothing.
func (b *Bridge) Continue(side Side, st StreamState) {
	if st.At.IsZero() {
		return
	}
	o := &b.out[side].outStream
	o.ssrc = st.SSRC
	o.started, o.resync = true, true
	o.maxSeq, o.maxTS = st.Seq, st.TS
	o.lastAt = int64(st.At.Sub(epoch))
	other := &b.out[side.Other()].outStream
	for other.ssrc == o.ssrc {
		other.ssrc = rand.Uint32()
	}
}

// state returns where the stream toward a side stands. Only valid once the
// reader goroutine feeding it has exited.
func (s *outStream) state() StreamState {
	if !s.started {
		return StreamState{}
	}
	return StreamState{SSRC: s.ssrc, Seq: s.maxSeq, TS: s.maxTS, At: epoch.Add(time.Duration(s.lastAt))}
}

// Detach stops relaying like Stop, but keeps the port of side keep open
// and returns the state of the stream the bridge sent toward it, so a Line
// can continue it (early media from a forward target ended, and the caller
// goes on to voicemail). The other side's port is closed. Only a UDP
// Endpoint can be kept: it returns ErrNotDetachable otherwise (and stops
// the bridge), and ErrStopped when the bridge was already stopped.
func (b *Bridge) Detach(keep Side) (StreamState, error) {
	ep := b.ep[keep]
	if ep == nil {
		b.Stop()
		return StreamState{}, ErrNotDetachable
	}
	var st StreamState
	err := ErrStopped
	b.stopOnce.Do(func() {
		err = nil
		b.mu.Lock()
		b.stopped = true
		b.mu.Unlock()
		b.detaching.Store(true)
		if cerr := b.port[keep.Other()].Close(); cerr != nil {
			slog.Warn("media: close port", "port", describePort(b.port[keep.Other()]), "err", cerr)
		}
		// A deadline in the past wakes the kept side's reader without
		// closing its socket.
		_ = ep.SetReadDeadline(time.Unix(1, 0))
		b.wg.Wait()
		_ = ep.SetReadDeadline(time.Time{})
		st = b.out[keep].state()
	})
	return st, err
}

// Start starts the two reader goroutines. Calling it again, or after Stop,
// does nothing.
func (b *Bridge) Start() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.stopped {
		return
	}
	b.started = true
	b.last.Store(monoNow())
	b.wg.Add(2)
	go b.run(SideA)
	go b.run(SideB)
}

// Stop stops relaying: it closes both ports (an endpoint releases its
// port pair to the pool) and waits for the reader goroutines to exit. It is idempotent
// and safe to call concurrently; every call returns after the goroutines
// have exited.
func (b *Bridge) Stop() {
	b.stopOnce.Do(func() {
		b.mu.Lock()
		b.stopped = true
		b.mu.Unlock()
		for _, p := range b.port {
			if err := p.Close(); err != nil {
				slog.Warn("media: close port", "port", describePort(p), "err", err)
			}
		}
		b.wg.Wait()
		aToB, bToA, dropped := b.Counters()
		slog.Debug("media: bridge stopped", "a", describePort(b.port[SideA]), "b", describePort(b.port[SideB]),
			"a_to_b", aToB, "b_to_a", bToA, "dropped", dropped)
	})
}

// SetDirection changes what side speaks, after a re-INVITE renegotiated its
// codec. It is atomic and safe while the bridge runs.
func (b *Bridge) SetDirection(side Side, d Direction) {
	for {
		old := b.dirs.Load()
		a, bb := unpackDirection(old, SideA), unpackDirection(old, SideB)
		if side == SideA {
			a = d
		} else {
			bb = d
		}
		if b.dirs.CompareAndSwap(old, packDirections(a, bb)) {
			return
		}
	}
}

// SetSendEnabled turns sending toward side on or off: off while that side
// is on hold (its SDP says sendonly or inactive, RFC 3264 §6.1). Packets
// from the other side are then discarded; when sending resumes the stream
// continues seamlessly.
func (b *Bridge) SetSendEnabled(side Side, on bool) {
	b.sendEnabled[side].Store(on)
}

// LastPacket returns when the newest RTP packet arrived from either side,
// for the RTP inactivity timeout. Before the first packet it returns the
// time Start was called, so the timeout also covers calls where media never
// flows; before Start it returns the zero time.
func (b *Bridge) LastPacket() time.Time {
	ns := b.last.Load()
	if ns == 0 {
		return time.Time{}
	}
	return epoch.Add(time.Duration(ns))
}

// touch records a packet's arrival. It writes only when the stored value is
// a millisecond old so the two reader goroutines do not bounce the cache
// line on every packet; that resolution is ample for a timeout of seconds.
func (b *Bridge) touch(now int64) {
	if now-b.last.Load() >= int64(time.Millisecond) {
		b.last.Store(now)
	}
}

// Counters returns packets relayed from A to B, from B to A, and packets
// dropped in either direction.
func (b *Bridge) Counters() (aToB, bToA, dropped uint64) {
	return b.out[SideB].relayed.Load(), b.out[SideA].relayed.Load(),
		b.out[SideA].dropped.Load() + b.out[SideB].dropped.Load()
}

// describePort names a port for logs.
func describePort(p Port) string {
	if s, ok := p.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", p)
}

// run is the reader goroutine of side from: read, relay, write, until the
// port is closed.
func (b *Bridge) run(from Side) {
	defer b.wg.Done()
	to := from.Other()
	inEP, outEP := b.ep[from], b.ep[to] // nil unless UDP: the fast path
	in, out := b.port[from], b.port[to]
	dir := &b.out[to]
	buf := make([]byte, maxPacket+1) // one spare byte detects oversize packets
	for {
		var n int
		var src netip.AddrPort
		var err error
		if inEP != nil {
			n, src, err = inEP.rtp.ReadFromUDPAddrPort(buf)
		} else {
			n, err = in.ReadRTP(buf)
		}
		if err != nil {
			// A Port other than an Endpoint fails only when it is closed
			// or dead (the Port contract).
			if inEP == nil || errors.Is(err, net.ErrClosed) || b.detaching.Load() {
				return
			}
			// Transient (e.g. an ICMP error surfaced by the kernel): the
			// socket is still usable.
			slog.Debug("media: RTP read", "port", inEP.LocalPort(), "err", err)
			continue
		}
		start := monoNow()
		v := verdictDrop
		var pkt []byte
		var dst netip.AddrPort
		if n <= maxPacket {
			pkt, dst, v = b.relay(from, buf[:n], src, start)
		}
		if v == verdictSend {
			if outEP != nil {
				_, err = outEP.rtp.WriteToUDPAddrPort(pkt, dst)
			} else {
				err = out.WriteRTP(pkt)
			}
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				v = verdictDrop
			} else {
				dir.relayed.Add(1)
				b.stats.recordRelay(len(pkt), time.Duration(monoNow()-start))
			}
		}
		if v == verdictDrop {
			dir.dropped.Add(1)
			b.stats.recordDrop()
		}
		if b.trace != nil {
			b.trace(from, v)
		}
	}
}
