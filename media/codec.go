package media

import "strconv"

// Static RTP payload types of the G.711 codecs (RFC 3551 §6, Table 4).
const (
	// PayloadPCMU is G.711 µ-law.
	PayloadPCMU = 0
	// PayloadPCMA is G.711 A-law.
	PayloadPCMA = 8
)

// ClockRate is the RTP clock rate of every codec this package relays:
// G.711 and telephone-event both use 8000 Hz (RFC 3551 §4.5.14, RFC 4733 §2.3).
const ClockRate = 8000

// Codec describes one RTP payload format as an SDP rtpmap line names it
// (RFC 4566 §6: "a=rtpmap:<payload type> <encoding name>/<clock rate>").
type Codec struct {
	Name        string
	PayloadType uint8
	ClockRate   uint32
}

// PCMU is G.711 µ-law with its static payload type.
var PCMU = Codec{Name: "PCMU", PayloadType: PayloadPCMU, ClockRate: ClockRate}

// PCMA is G.711 A-law with its static payload type.
var PCMA = Codec{Name: "PCMA", PayloadType: PayloadPCMA, ClockRate: ClockRate}

// TelephoneEvent returns the RFC 4733 telephone-event codec on the dynamic
// payload type pt negotiated in SDP (commonly 101, but it is whatever the
// offer says).
func TelephoneEvent(pt uint8) Codec {
	return Codec{Name: "telephone-event", PayloadType: pt, ClockRate: ClockRate}
}

// String returns the codec as an rtpmap encoding: "PCMU/8000".
func (c Codec) String() string {
	return c.Name + "/" + strconv.FormatUint(uint64(c.ClockRate), 10)
}
