package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"switchboard/media"
)

// Errors of SDP offer/answer (RFC 3264).
var (
	// ErrBadSDP means the body is not a usable session description (400).
	ErrBadSDP = errors.New("malformed SDP")
	// ErrNoCodec means no audio codec of the offer is one we speak (488, RFC 3261 §13.3.1.1).
	ErrNoCodec = errors.New("no common codec")
)

// dtmfPayloadType is the dynamic payload type we offer for RFC 4733 events.
const dtmfPayloadType = 101

// Directions of RFC 3264 §5.1.
const (
	dirSendRecv = "sendrecv"
	dirSendOnly = "sendonly"
	dirRecvOnly = "recvonly"
	dirInactive = "inactive"
)

// sessionMedia is what we take from a peer's SDP: its audio stream.
type sessionMedia struct {
	Addr      netip.AddrPort // where to send RTP; an unspecified address means "do not send"
	Codecs    []uint8        // audio payload types we also speak (PCMU 0, PCMA 8), in the peer's order
	DTMF      uint8          // the peer's telephone-event/8000 payload type, 0 if none
	Direction string         // sendrecv, sendonly, recvonly or inactive
}

// held reports whether the peer put the stream on hold: it does not want to
// receive (sendonly, inactive) or gave the RFC 2543 style c=0.0.0.0 (RFC 3264 §8.4).
func (m *sessionMedia) held() bool {
	return m.Direction == dirSendOnly || m.Direction == dirInactive || !m.Addr.Addr().IsValid() || m.Addr.Addr().IsUnspecified()
}

// wantsMedia reports whether we should send RTP to the peer.
func (m *sessionMedia) wantsMedia() bool {
	return (m.Direction == dirSendRecv || m.Direction == dirRecvOnly) && m.Addr.Addr().IsValid() && !m.Addr.Addr().IsUnspecified()
}

// parseSDP reads the first usable audio stream of body.
func parseSDP(body []byte) (*sessionMedia, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	sessionDir := directionOf(sd.Attributes, dirSendRecv)
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		if md.MediaName.Port.Value == 0 {
			continue // RFC 3264 §6: a rejected or disabled stream
		}
		proto := strings.Join(md.MediaName.Protos, "/")
		if proto != "RTP/AVP" && proto != "RTP/AVPF" {
			continue // SRTP and others: we speak plain RTP to trunks
		}
		conn := md.ConnectionInformation
		if conn == nil {
			conn = sd.ConnectionInformation
		}
		if conn == nil || conn.Address == nil {
			return nil, fmt.Errorf("%w: audio stream without c= line", ErrBadSDP)
		}
		host := conn.Address.Address
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i] // multicast TTL suffix
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil, fmt.Errorf("%w: connection address %q is not an IP", ErrBadSDP, conn.Address.Address)
		}
		port := md.MediaName.Port.Value
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("%w: port %d out of range", ErrBadSDP, port)
		}
		m := &sessionMedia{
			Addr:      netip.AddrPortFrom(ip.Unmap(), uint16(port)),
			Direction: directionOf(md.Attributes, sessionDir),
		}
		rtpmap := map[uint8]string{}
		for _, a := range md.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			pt, enc, ok := strings.Cut(a.Value, " ")
			n, err := strconv.ParseUint(pt, 10, 7)
			if !ok || err != nil {
				continue
			}
			rtpmap[uint8(n)] = strings.ToLower(strings.TrimSpace(enc))
		}
		for _, f := range md.MediaName.Formats {
			n, err := strconv.ParseUint(f, 10, 7)
			if err != nil {
				continue
			}
			pt := uint8(n)
			enc, mapped := rtpmap[pt]
			switch {
			case pt == media.PayloadPCMU && (!mapped || enc == "pcmu/8000" || enc == "pcmu/8000/1"),
				pt == media.PayloadPCMA && (!mapped || enc == "pcma/8000" || enc == "pcma/8000/1"):
				m.Codecs = append(m.Codecs, pt)
			case pt >= 96 && enc == "telephone-event/8000" && m.DTMF == 0:
				m.DTMF = pt
			}
		}
		if len(m.Codecs) == 0 {
			return m, ErrNoCodec
		}
		return m, nil
	}
	return nil, fmt.Errorf("%w: no audio stream we can use", ErrNoCodec)
}

func directionOf(attrs []sdp.Attribute, def string) string {
	for _, a := range attrs {
		switch a.Key {
		case dirSendRecv, dirSendOnly, dirRecvOnly, dirInactive:
			return a.Key
		}
	}
	return def
}

// answerDirection is our direction in an answer to an offered one (RFC 3264 §6.1).
func answerDirection(offered string) string {
	switch offered {
	case dirSendOnly:
		return dirRecvOnly
	case dirRecvOnly:
		return dirSendOnly
	case dirInactive:
		return dirInactive
	}
	return dirSendRecv
}

// sdpParams is what we put into an offer or an answer.
type sdpParams struct {
	SessionID uint64
	Version   uint64 // incremented on every new offer/answer in the dialog (RFC 3264 §8)
	Addr      netip.Addr
	Port      int
	Codecs    []uint8 // audio payload types, preferred first
	DTMF      uint8   // 0: no telephone-event
	Direction string
}

// buildSDP writes a minimal RFC 4566 description of one audio stream.
func buildSDP(p sdpParams) []byte {
	ipVer := "IP4"
	if p.Addr.Is6() && !p.Addr.Is4In6() {
		ipVer = "IP6"
	}
	addr := p.Addr.Unmap().String()
	var b strings.Builder
	b.Grow(300)
	fmt.Fprintf(&b, "v=0\r\no=switchboard %d %d IN %s %s\r\ns=switchboard\r\nc=IN %s %s\r\nt=0 0\r\n",
		p.SessionID, p.Version, ipVer, addr, ipVer, addr)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP", p.Port)
	for _, c := range p.Codecs {
		fmt.Fprintf(&b, " %d", c)
	}
	if p.DTMF != 0 {
		fmt.Fprintf(&b, " %d", p.DTMF)
	}
	b.WriteString("\r\n")
	for _, c := range p.Codecs {
		switch c {
		case media.PayloadPCMU:
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case media.PayloadPCMA:
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		}
	}
	if p.DTMF != 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", p.DTMF, p.DTMF)
	}
	b.WriteString("a=ptime:20\r\n")
	dir := p.Direction
	if dir == "" {
		dir = dirSendRecv
	}
	b.WriteString("a=" + dir + "\r\n")
	return []byte(b.String())
}

// offerCodecs orders our codecs with prefer first, so a callee that takes the
// first one relays without transcoding.
func offerCodecs(prefer uint8) []uint8 {
	if prefer == media.PayloadPCMA {
		return []uint8{media.PayloadPCMA, media.PayloadPCMU}
	}
	return []uint8{media.PayloadPCMU, media.PayloadPCMA}
}

// directionFor turns a negotiated stream into what the bridge needs.
func directionFor(m *sessionMedia, codec uint8) media.Direction {
	return media.Direction{PayloadType: codec, DTMFType: m.DTMF}
}

func errorsIsNoCodec(err error) bool { return errors.Is(err, ErrNoCodec) }
