package media

import "encoding/binary"

// The RTP fixed header (RFC 3550 §5.1), parsed in place on the relay path:
//
//	 0                   1                   2                   3
//	|V=2|P|X|  CC   |M|     PT      |       sequence number         |
//	|                           timestamp                           |
//	|           synchronization source (SSRC) identifier            |
//	|            contributing source (CSRC) identifiers             | (CC × 32 bits)
const (
	rtpHeaderLen = 12
	rtpVersion   = 2
	offSeq       = 2
	offTimestamp = 4
	offSSRC      = 8
	markerBit    = 0x80
	ptMask       = 0x7f
)

// rtpPayload validates pkt as an RTP packet and returns where its payload
// starts and ends. ok is false when the version is not 2, the packet is
// shorter than the fixed header, or the CSRC list, header extension
// (RFC 3550 §5.3.1) or padding (§5.1: the last octet counts the padding,
// itself included) claim more bytes than the packet holds.
func rtpPayload(pkt []byte) (start, end int, ok bool) {
	n := len(pkt)
	if n < rtpHeaderLen {
		return 0, 0, false
	}
	b0 := pkt[0]
	if b0>>6 != rtpVersion {
		return 0, 0, false
	}
	start = rtpHeaderLen + int(b0&0x0f)*4
	if b0&0x10 != 0 {
		if start+4 > n {
			return 0, 0, false
		}
		start += 4 + int(binary.BigEndian.Uint16(pkt[start+2:]))*4
	}
	end = n
	if b0&0x20 != 0 {
		pad := int(pkt[n-1])
		if pad == 0 {
			return 0, 0, false
		}
		end -= pad
	}
	if start > end {
		return 0, 0, false
	}
	return start, end, true
}

// isRTCP reports whether pkt looks like RTCP sent to the RTP port. RFC 5761
// §4 demultiplexes on the second octet: RTCP packet types (SR 200, RR 201,
// SDES 202, BYE 203, APP 204 and the feedback/XR types after them) fall in
// 192-223, which as RTP would be a marker bit plus payload types 64-95,
// which RFC 5761 forbids for RTP for that reason.
func isRTCP(pkt []byte) bool {
	return len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223
}

// RTPHeader is the part of an RTP fixed header (RFC 3550 §5.1) that
// consumers of tapped packets need.
type RTPHeader struct {
	Marker      bool
	PayloadType uint8
	Seq         uint16
	TS          uint32
	SSRC        uint32
}

// ParseRTP validates pkt as RTP and returns its header and payload (a
// sub-slice of pkt, no copy). ok is false for anything that is not a
// well-formed RTP packet. It does not allocate.
func ParseRTP(pkt []byte) (h RTPHeader, payload []byte, ok bool) {
	start, end, ok := rtpPayload(pkt)
	if !ok || isRTCP(pkt) {
		return RTPHeader{}, nil, false
	}
	h = RTPHeader{
		Marker:      pkt[1]&markerBit != 0,
		PayloadType: pkt[1] & ptMask,
		Seq:         binary.BigEndian.Uint16(pkt[offSeq:]),
		TS:          binary.BigEndian.Uint32(pkt[offTimestamp:]),
		SSRC:        binary.BigEndian.Uint32(pkt[offSSRC:]),
	}
	return h, pkt[start:end], true
}
