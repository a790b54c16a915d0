package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// G.711 static payload types (RFC 3551 §6, table 4).
const (
	ptPCMU uint8 = 0
	ptPCMA uint8 = 8
)

// errNoAudio means a session description has no audio stream we can use.
var errNoAudio = errors.New("sdp: no usable audio stream")

// remoteAudio is what the load generator needs from the gateway's SDP: where
// to send RTP and which G.711 payload types it listed, in its order.
type remoteAudio struct {
	Addr   netip.AddrPort
	Codecs []uint8
}

// parseAudio reads the first audio stream of an SDP body.
func parseAudio(body []byte) (remoteAudio, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return remoteAudio{}, fmt.Errorf("sdp: %w", err)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		conn := md.ConnectionInformation
		if conn == nil {
			conn = sd.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return remoteAudio{}, fmt.Errorf("%w: no c= line", errNoAudio)
		}
		ip, err := netip.ParseAddr(conn.Address.Address)
		if err != nil {
			return remoteAudio{}, fmt.Errorf("%w: c= address %q: %w", errNoAudio, conn.Address.Address, err)
		}
		port := md.MediaName.Port.Value
		if port < 1 || port > 65535 {
			return remoteAudio{}, fmt.Errorf("%w: port %d", errNoAudio, port)
		}
		ra := remoteAudio{Addr: netip.AddrPortFrom(ip.Unmap(), uint16(port))}
		for _, f := range md.MediaName.Formats {
			n, err := strconv.ParseUint(f, 10, 7)
			if err == nil && (uint8(n) == ptPCMU || uint8(n) == ptPCMA) {
				ra.Codecs = append(ra.Codecs, uint8(n))
			}
		}
		if len(ra.Codecs) == 0 {
			return remoteAudio{}, fmt.Errorf("%w: no G.711 payload type", errNoAudio)
		}
		return ra, nil
	}
	return remoteAudio{}, errNoAudio
}

// pick returns the first of want that the remote side listed.
func (r remoteAudio) pick(want ...uint8) (uint8, bool) {
	for _, w := range want {
		for _, c := range r.Codecs {
			if c == w {
				return w, true
			}
		}
	}
	return 0, false
}

// codecByName maps a flag value to a G.711 payload type.
func codecByName(name string) (uint8, error) {
	switch strings.ToLower(name) {
	case "pcmu", "ulaw", "0":
		return ptPCMU, nil
	case "pcma", "alaw", "8":
		return ptPCMA, nil
	}
	return 0, fmt.Errorf("unknown codec %q (want pcmu or pcma)", name)
}

// buildSDP writes an RFC 4566 description of one sendrecv G.711 audio
// stream at addr listing codecs in preference order.
func buildSDP(sessionID uint64, addr netip.AddrPort, codecs ...uint8) []byte {
	ip := addr.Addr().String()
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=loadgen %d 1 IN IP4 %s\r\ns=loadgen\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP", sessionID, ip, ip, addr.Port())
	for _, c := range codecs {
		fmt.Fprintf(&b, " %d", c)
	}
	b.WriteString("\r\n")
	for _, c := range codecs {
		switch c {
		case ptPCMU:
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case ptPCMA:
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		}
	}
	b.WriteString("a=ptime:20\r\na=sendrecv\r\n")
	return []byte(b.String())
}
