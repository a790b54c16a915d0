package sip

import (
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/call"
	"switchboard/media"
)

// legMedia is the RTP side of one SIP leg: its endpoint, the peer's latest
// SDP and our SDP session, shared by caller and callee legs.
type legMedia struct {
	mu      sync.Mutex
	ep      *media.Endpoint
	addr    netip.Addr // our address for SDP c= lines
	remote  *sessionMedia
	codec   uint8
	sessID  uint64
	version uint64
	updates chan call.MediaUpdate
	acked   chan uint32 // CSeq numbers of ACKs for our re-INVITE 2xx
	dtmf    chan media.Digit
}

func newLegMedia(ep *media.Endpoint, addr netip.Addr, sessID uint64) legMedia {
	return legMedia{ep: ep, addr: addr, sessID: sessID, updates: make(chan call.MediaUpdate, 4), acked: make(chan uint32, 4), dtmf: make(chan media.Digit, 16)}
}

// applyRemote takes the peer's SDP: the first codec of its list (RFC 3264
// §6.1: the offerer's preference order, or the answerer's choice) and where
// to send RTP.
func (m *legMedia) applyRemote(sm *sessionMedia) {
	m.mu.Lock()
	m.remote = sm
	if len(sm.Codecs) > 0 {
		m.codec = sm.Codecs[0]
	}
	m.mu.Unlock()
	m.ep.SetRemote(sendAddr(sm))
}

// sendAddr is where RTP goes: the peer's address unless it does not want media.
func sendAddr(m *sessionMedia) netip.AddrPort {
	if m.wantsMedia() {
		return m.Addr
	}
	return netip.AddrPortFrom(netip.IPv4Unspecified(), m.Addr.Port())
}

func (m *legMedia) negotiated() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.remote != nil
}

// Media implements call.Leg.
func (m *legMedia) Media() (media.Port, media.Direction, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.remote == nil {
		return m.ep, media.Direction{}, false
	}
	return m.ep, directionFor(m.remote, m.codec), true
}

// Updates implements call.Leg.
func (m *legMedia) Updates() <-chan call.MediaUpdate { return m.updates }

func (m *legMedia) codecName() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.remote == nil {
		return ""
	}
	return codecName(m.codec)
}

func codecName(pt uint8) string {
	if pt == media.PayloadPCMA {
		return "PCMA"
	}
	return "PCMU"
}

// answerSDP answers the peer's latest offer with the codec we chose.
func (m *legMedia) answerSDP() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version++ // RFC 3264 §8: a new version for every changed description
	return buildSDP(sdpParams{
		SessionID: m.sessID, Version: m.version, Addr: m.addr, Port: m.ep.LocalPort(),
		Codecs: []uint8{m.codec}, DTMF: m.remote.DTMF, Direction: answerDirection(m.remote.Direction),
	})
}

// offerSDP offers our codecs with prefer first.
func (m *legMedia) offerSDP(prefer uint8) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version++
	return buildSDP(sdpParams{
		SessionID: m.sessID, Version: m.version, Addr: m.addr, Port: m.ep.LocalPort(),
		Codecs: offerCodecs(prefer), DTMF: dtmfPayloadType, Direction: dirSendRecv,
	})
}

// renegotiate answers a re-INVITE or UPDATE within the dialog (RFC 3311,
// RFC 3264 §8): hold (sendonly, inactive, c=0.0.0.0) is answered with the
// matching direction and the bridge stops sending toward the held side.
func (m *legMedia) renegotiate(s *Server, req *sip.Request, tx sip.ServerTransaction) {
	if len(req.Body()) == 0 {
		if req.Method == sip.UPDATE {
			s.respond(tx, req, 200, "OK") // a session-timer refresh without SDP
			return
		}
		// A re-INVITE without an offer: we offer in the 200 and take the
		// answer from the ACK; keep the current media meanwhile.
		m.mu.Lock()
		codec := m.codec
		m.mu.Unlock()
		m.answer2xx(s, tx, req, m.offerSDP(codec))
		return
	}
	sm, err := parseSDP(req.Body())
	if err != nil {
		code, reason := 488, "Not Acceptable Here"
		if !errorsIsNoCodec(err) {
			code, reason = 400, "Bad SDP"
		}
		s.respond(tx, req, code, reason)
		return
	}
	m.applyRemote(sm)
	m.answer2xx(s, tx, req, m.answerSDP())
	_, dir, _ := m.Media()
	u := call.MediaUpdate{Dir: dir, Send: sm.wantsMedia(), Held: sm.held()}
	select {
	case m.updates <- u:
	default:
		// The engine is behind; the newest state matters, drop the oldest.
		select {
		case <-m.updates:
		default:
		}
		m.updates <- u
	}
}

// answer2xx sends the 200 to a re-INVITE or UPDATE. A re-INVITE's 2xx is
// retransmitted by us, not the transaction, until its ACK (RFC 3261 §13.3.1.4).
func (m *legMedia) answer2xx(s *Server, tx sip.ServerTransaction, req *sip.Request, body []byte) {
	res := sip.NewSDPResponseFromRequest(req, body)
	res.AppendHeader(&s.dua.ContactHDR)
	s.send(tx, res)
	if req.Method != sip.INVITE {
		return
	}
	cseq := req.CSeq().SeqNo
	go func() {
		interval := sip.T1
		timer := time.NewTimer(interval)
		defer timer.Stop()
		giveUp := time.After(64 * sip.T1)
		for {
			select {
			case n := <-m.acked:
				if n == cseq {
					return
				}
			case <-timer.C:
				if tx.Respond(res) != nil {
					return
				}
				interval = min(2*interval, sip.T2)
				timer.Reset(interval)
			case <-giveUp:
				return
			}
		}
	}()
}

// ackReceived tells a pending re-INVITE 2xx retransmission its ACK arrived.
func (m *legMedia) ackReceived(cseq uint32) {
	select {
	case m.acked <- cseq:
	default:
	}
}
