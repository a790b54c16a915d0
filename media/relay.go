package media

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// The per-packet relay path. Everything here runs on the goroutine that
// reads the packet's side and must not allocate.

const (
	// samplesPerFrame is one 20 ms G.711 frame at 8 kHz, the smallest
	// timestamp step used when a new source takes over a stream.
	samplesPerFrame = 160
	// nsPerSample is the duration of one sample at ClockRate.
	nsPerSample = int64(time.Second) / ClockRate
)

// verdict is what the relay decided for one received packet.
type verdict uint8

const (
	// verdictSend: the packet was rewritten and goes to the other side.
	verdictSend verdict = iota
	// verdictHold: a valid packet, but nothing is sent toward the other
	// side now (it is on hold or its address is unknown).
	verdictHold
	// verdictDrop: invalid, unexpected payload type, or foreign source.
	verdictDrop
)

// outStream is the state of the stream the bridge sends toward one side.
// Only the goroutine reading the opposite side touches it, so it needs no
// locks.
type outStream struct {
	ssrc    uint32 // the bridge's own SSRC for this stream (RFC 3550 §8)
	initSeq uint16 // random first sequence number (RFC 3550 §5.1)
	initTS  uint32 // random first timestamp (RFC 3550 §5.1)

	started bool
	resync  bool   // next packet must continue the stream like a new source
	inSSRC  uint32 // SSRC of the source currently feeding the stream
	seqOff  uint16 // output seq = input seq + seqOff (mod 2^16)
	tsOff   uint32 // output ts = input ts + tsOff (mod 2^32)
	maxSeq  uint16 // highest output seq so far (serial-number order)
	maxTS   uint32 // highest output ts so far
	lastAt  int64  // monotonic ns of the last packet sent
}

// rewrite turns the header of pkt (from the current or a new source) into
// the next packet of this one continuous stream, with payload type pt.
func (s *outStream) rewrite(pkt []byte, pt uint8, now int64) {
	inSeq := binary.BigEndian.Uint16(pkt[offSeq:])
	inTS := binary.BigEndian.Uint32(pkt[offTimestamp:])
	inSSRC := binary.BigEndian.Uint32(pkt[offSSRC:])
	marker := pkt[1] & markerBit

	if !s.started || s.resync || inSSRC != s.inSSRC {
		// A new source (or the first, or the first after a hold): re-base
		// the offsets so it continues where the stream left off. Sequence
		// numbers stay contiguous; the timestamp advances by the wall time
		// that passed (at least one frame) so the receiver's playout clock
		// stays right. RFC 3551 §4.1: mark it as the start of a talkspurt
		// so jitter buffers resynchronise.
		seq, ts := s.initSeq, s.initTS
		if s.started {
			seq = s.maxSeq + 1
			adv := max((now-s.lastAt)/nsPerSample, samplesPerFrame)
			ts = s.maxTS + uint32(adv)
		}
		s.seqOff = seq - inSeq
		s.tsOff = ts - inTS
		s.maxSeq, s.maxTS = seq, ts
		s.inSSRC = inSSRC
		s.started, s.resync = true, false
		marker = markerBit
	}
	// Offsets keep the source's own structure: gaps (loss), reordering and
	// RFC 4733 §2.5's shared timestamp across one event's packets survive.
	seq := inSeq + s.seqOff
	ts := inTS + s.tsOff
	if int16(seq-s.maxSeq) > 0 {
		s.maxSeq = seq
	}
	if int32(ts-s.maxTS) > 0 {
		s.maxTS = ts
	}
	s.lastAt = now

	pkt[1] = marker | pt
	binary.BigEndian.PutUint16(pkt[offSeq:], seq)
	binary.BigEndian.PutUint32(pkt[offTimestamp:], ts)
	binary.BigEndian.PutUint32(pkt[offSSRC:], s.ssrc)
}

// transcodeTable returns the table converting payload type from to to, or
// nil if the bridge cannot convert between them.
func transcodeTable(from, to uint8) *[256]byte {
	switch {
	case from == PayloadPCMU && to == PayloadPCMA:
		return &ULawToALaw
	case from == PayloadPCMA && to == PayloadPCMU:
		return &ALawToULaw
	}
	return nil
}

// relay handles one packet received on side from with source src at
// monotonic time now: it rewrites pkt in place for the other side and
// returns the bytes to send and where to send them. src and the returned
// address matter only for a side that is a UDP Endpoint; for other ports
// they are the zero value. It is the whole
// per-packet decision, without the socket calls, so it can be measured on
// its own.
func (b *Bridge) relay(from Side, pkt []byte, src netip.AddrPort, now int64) ([]byte, netip.AddrPort, verdict) {
	to := from.Other()
	if isRTCP(pkt) {
		return nil, netip.AddrPort{}, verdictDrop
	}
	start, end, ok := rtpPayload(pkt)
	if !ok {
		return nil, netip.AddrPort{}, verdictDrop
	}
	// Validate before accepting: a stray non-RTP datagram (a port scan, a
	// STUN keepalive) must not become the latched source.
	if ep := b.ep[from]; ep != nil && !ep.accept(src) {
		return nil, netip.AddrPort{}, verdictDrop
	}
	// Any well-formed RTP from the far end (comfort noise too) proves the
	// far end is alive for the RTP timeout.
	b.touch(now)
	if t := b.tap.Load(); t != nil {
		// The leg's own packet, before transcoding and rewriting, so a
		// recorder places it by the leg's own timestamps.
		(*t).TapRTP(from, pkt, now)
	}

	dirs := b.dirs.Load()
	in, out := unpackDirection(dirs, from), unpackDirection(dirs, to)
	pt := pkt[1] & ptMask
	var outPT uint8
	var table *[256]byte
	switch {
	case pt == in.PayloadType:
		outPT = out.PayloadType
		if in.PayloadType != out.PayloadType {
			if table = transcodeTable(in.PayloadType, out.PayloadType); table == nil {
				return nil, netip.AddrPort{}, verdictDrop
			}
		}
	case in.DTMFType != 0 && pt == in.DTMFType:
		// RFC 4733 events are relayed with the other side's payload type;
		// a side that negotiated no telephone-event gets none.
		if out.DTMFType == 0 {
			return nil, netip.AddrPort{}, verdictDrop
		}
		outPT = out.DTMFType
	default:
		return nil, netip.AddrPort{}, verdictDrop
	}

	st := &b.out[to].outStream
	var dst netip.AddrPort
	held := !b.sendEnabled[to].Load()
	if ep := b.ep[to]; ep != nil {
		// Invalid: no address known yet, or SDP hold (RFC 3264 §8.4).
		dst = ep.Destination()
		held = held || !dst.IsValid()
	}
	if held {
		// Nothing goes out now; when sending resumes the stream continues
		// like a new source (contiguous seq, timestamp advanced by the
		// hold's duration, marker set).
		st.resync = true
		return nil, netip.AddrPort{}, verdictHold
	}
	if table != nil {
		payload := pkt[start:end]
		for i, v := range payload {
			payload[i] = table[v]
		}
	}
	st.rewrite(pkt, outPT, now)
	return pkt, dst, verdictSend
}
