package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// G.711 at 8 kHz in 20 ms packets (RFC 3551 §4.5.14: ptime 20 is the
// default): 160 samples, one byte each, behind a 12-byte RTP header.
const (
	frameInterval = 20 * time.Millisecond
	frameSamples  = 160
	rtpHeaderLen  = 12
	packetLen     = rtpHeaderLen + frameSamples
	// pacerSlots spreads the streams over the 20 ms period so the pacer
	// sends 1/20 of them every millisecond instead of all of them in one
	// burst, which is closer to independent phones and keeps socket
	// queues short on both sides.
	pacerSlots = 20
	slotLen    = frameInterval / pacerSlots
	// stampLen is the send-time stamp at the start of the payload that
	// the receiver turns into a one-way latency.
	stampLen = 8
	// socketBuffer is asked for on every RTP socket: one socket carries
	// hundreds of streams, so the default (~208 KiB) can overflow while the
	// reader is descheduled on a busy 2-core machine. The kernel caps it at
	// net.core.rmem_max / wmem_max.
	socketBuffer = 4 << 20
)

// silence is one G.711 byte of silence per payload type (RFC 3551 §4.5.14:
// μ-law 0xFF, A-law 0xD5).
func silence(pt uint8) byte {
	if pt == ptPCMA {
		return 0xD5
	}
	return 0xFF
}

// stream is one paced RTP flow from one of our sockets to one gateway port.
// The pacer goroutine owns pkt, seq and ts; the counters are read by others.
type stream struct {
	pkt  [packetLen]byte
	conn *net.UDPConn
	dst  netip.AddrPort
	slot int
	pos  int // index in its slot list, for O(1) removal

	seq uint16
	ts  uint32

	sent atomic.Uint64
	recv atomic.Uint64
}

// counters is a snapshot of the engine's totals.
type counters struct {
	Sent, Recv, Stray, Skipped, SendErrors uint64
}

// rtpEngine sends paced G.711 for every stream from one goroutine with one
// ticker, and reads every socket with one goroutine each. Packets are
// preallocated per stream and rewritten in place; nothing on the packet
// path allocates. Received packets are matched to streams by their source
// port: each gateway leg has its own RTP port, so that port names the stream.
type rtpEngine struct {
	base  time.Time
	stamp bool

	socks []*net.UDPConn
	next  atomic.Uint32 // round-robin socket choice

	mu       sync.Mutex
	slots    [pacerSlots][]*stream
	nextSlot int
	active   int

	byPort [65536]atomic.Pointer[stream]

	// payloads replaces silence for streams of a payload type (setPayload).
	payloads map[uint8][]byte

	sent, recv, stray, skipped, sendErrs atomic.Uint64
	latency                              histogram // one-way, send to receive
	lag                                  histogram // pacer wake-up lateness

	wg sync.WaitGroup
}

// newRTPEngine binds n UDP sockets on ip (ephemeral ports). With stamp set,
// every packet carries its send time in the first payload bytes and the
// receiver records the one-way latency; that only works when the gateway
// relays payloads unchanged (same codec on both legs).
func newRTPEngine(ip netip.Addr, n int, stamp bool) (*rtpEngine, error) {
	if n < 1 {
		return nil, fmt.Errorf("rtp: need at least one socket, got %d", n)
	}
	e := &rtpEngine{base: time.Now(), stamp: stamp}
	for range n {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		if err != nil {
			e.closeSockets()
			return nil, fmt.Errorf("rtp: bind %v: %w", ip, err)
		}
		// Best effort: a smaller buffer still works, it only drops sooner.
		_ = c.SetReadBuffer(socketBuffer)
		_ = c.SetWriteBuffer(socketBuffer)
		e.socks = append(e.socks, c)
	}
	return e, nil
}

// start runs the pacer and the readers until ctx ends or stop is called.
func (e *rtpEngine) start(ctx context.Context) {
	for _, c := range e.socks {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.read(c) }()
	}
	e.wg.Add(1)
	go func() { defer e.wg.Done(); e.pace(ctx) }()
}

// stop closes the sockets, which ends the readers, and waits for them and
// for the pacer (whose context the caller cancels).
func (e *rtpEngine) stop() {
	e.closeSockets()
	e.wg.Wait()
}

func (e *rtpEngine) closeSockets() {
	for _, c := range e.socks {
		c.Close()
	}
}

// socket picks the socket for a new stream, round robin, so an SDP can
// name its address before the stream exists.
func (e *rtpEngine) socket() *net.UDPConn {
	i := e.next.Add(1) - 1
	return e.socks[int(i)%len(e.socks)]
}

// add starts a stream from conn to dst with payload type pt.
func (e *rtpEngine) add(conn *net.UDPConn, dst netip.AddrPort, pt uint8, ssrc uint32) *stream {
	s := &stream{conn: conn, dst: dst, seq: uint16(ssrc >> 3), ts: ssrc * 7}
	s.pkt[0] = 0x80           // RTP version 2, no padding, extension or CSRC
	s.pkt[1] = 0x80 | pt&0x7F // marker on the first packet (RFC 3551 §4.1)
	binary.BigEndian.PutUint32(s.pkt[8:], ssrc)
	e.mu.Lock()
	defer e.mu.Unlock()
	if p, ok := e.payloads[pt]; ok {
		copy(s.pkt[rtpHeaderLen:], p)
	} else {
		fill := silence(pt)
		for i := rtpHeaderLen; i < packetLen; i++ {
			s.pkt[i] = fill
		}
	}
	e.byPort[dst.Port()].Store(s)

	s.slot = e.nextSlot
	e.nextSlot = (e.nextSlot + 1) % pacerSlots
	s.pos = len(e.slots[s.slot])
	e.slots[s.slot] = append(e.slots[s.slot], s)
	e.active++
	return s
}

// setPayload makes every stream added later with payload type pt send
// payload (one 20 ms frame) in every packet instead of silence. With
// stamping on, the first stampLen bytes still carry the send time.
func (e *rtpEngine) setPayload(pt uint8, payload []byte) error {
	if len(payload) != frameSamples {
		return fmt.Errorf("rtp: payload of %d bytes, want %d (20 ms of G.711)", len(payload), frameSamples)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.payloads == nil {
		e.payloads = make(map[uint8][]byte)
	}
	e.payloads[pt] = append([]byte(nil), payload...)
	return nil
}

// remove stops a stream. Late packets from its gateway port count as stray.
func (e *rtpEngine) remove(s *stream) {
	e.byPort[s.dst.Port()].CompareAndSwap(s, nil)
	e.mu.Lock()
	defer e.mu.Unlock()
	list := e.slots[s.slot]
	if s.pos < 0 || s.pos >= len(list) || list[s.pos] != s {
		return // already removed
	}
	last := list[len(list)-1]
	list[s.pos] = last
	last.pos = s.pos
	list[len(list)-1] = nil
	e.slots[s.slot] = list[:len(list)-1]
	s.pos = -1
	e.active--
}

// streams reports how many streams are being sent.
func (e *rtpEngine) streams() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active
}

// snapshot returns the totals so far.
func (e *rtpEngine) snapshot() counters {
	return counters{
		Sent: e.sent.Load(), Recv: e.recv.Load(), Stray: e.stray.Load(),
		Skipped: e.skipped.Load(), SendErrors: e.sendErrs.Load(),
	}
}

// pace sends slot k's streams at start + k*slotLen. When the goroutine was
// not scheduled for a while it catches up, but never by more than one
// period: a stream sends at most one late packet per wake-up and the
// packets of a longer stall are counted as skipped rather than burst out.
func (e *rtpEngine) pace(ctx context.Context) {
	t := time.NewTicker(slotLen)
	defer t.Stop()
	start := time.Now()
	var next int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		elapsed := time.Since(start)
		due := int64(elapsed / slotLen)
		// How late the oldest unsent slot is: the load generator's own
		// scheduling delay, which the one-way latency also contains.
		e.lag.observe(elapsed - time.Duration(next)*slotLen)
		e.mu.Lock()
		first := firstSlot(next, due)
		for k := next; k < first; k++ {
			e.skipped.Add(uint64(len(e.slots[k%pacerSlots])))
		}
		for next = first; next <= due; next++ {
			for _, s := range e.slots[next%pacerSlots] {
				e.send(s)
			}
		}
		e.mu.Unlock()
	}
}

// firstSlot is the first slot to send when slots next..due are due: all
// of them, or only the last period's worth after a long stall.
func firstSlot(next, due int64) int64 {
	if due-next+1 > pacerSlots {
		return due - pacerSlots + 1
	}
	return next
}

// send writes the stream's next packet. Only the pacer calls it.
func (e *rtpEngine) send(s *stream) {
	binary.BigEndian.PutUint16(s.pkt[2:], s.seq)
	binary.BigEndian.PutUint32(s.pkt[4:], s.ts)
	if e.stamp {
		binary.BigEndian.PutUint64(s.pkt[rtpHeaderLen:], uint64(time.Since(e.base)))
	}
	_, err := s.conn.WriteToUDPAddrPort(s.pkt[:], s.dst)
	s.pkt[1] &^= 0x80 // only the first packet starts a talkspurt
	s.seq++
	s.ts += frameSamples
	if err != nil {
		e.sendErrs.Add(1)
		return
	}
	s.sent.Add(1)
	e.sent.Add(1)
}

// read counts what arrives on c until c is closed.
func (e *rtpEngine) read(c *net.UDPConn) {
	buf := make([]byte, 1500)
	for {
		n, src, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable surfacing as ECONNREFUSED
		}
		s := e.byPort[src.Port()].Load()
		if s == nil || n < rtpHeaderLen || buf[0]>>6 != 2 {
			e.stray.Add(1)
			continue
		}
		s.recv.Add(1)
		e.recv.Add(1)
		if e.stamp && n >= rtpHeaderLen+stampLen {
			sentAt := int64(binary.BigEndian.Uint64(buf[rtpHeaderLen:]))
			e.latency.observe(time.Duration(int64(time.Since(e.base)) - sentAt))
		}
	}
}
