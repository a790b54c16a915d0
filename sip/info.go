package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"switchboard/media"
)

// maxInfoBody bounds the INFO bodies parsed for DTMF: a dtmf-relay body is
// two short lines.
const maxInfoBody = 256

// infoDigit reads the key pressed from a SIP INFO request carrying DTMF, as
// many trunks and phones send it when RFC 4733 was not negotiated:
// "application/dtmf-relay" ("Signal=5\r\nDuration=160", the de facto format
// from Cisco) or "application/dtmf" (the bare key). ok is false for any
// other INFO (RFC 6086 §4.2: the receiver decides what it understands).
func infoDigit(req *sip.Request) (media.Digit, bool) {
	ct := req.ContentType()
	body := req.Body()
	if ct == nil || len(body) == 0 || len(body) > maxInfoBody {
		return 0, false
	}
	mime := strings.ToLower(strings.TrimSpace(strings.SplitN(ct.Value(), ";", 2)[0]))
	var signal string
	switch mime {
	case "application/dtmf-relay":
		for line := range strings.SplitSeq(string(body), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				signal = strings.TrimSpace(v)
				break
			}
		}
	case "application/dtmf":
		signal = strings.TrimSpace(string(body))
	default:
		return 0, false
	}
	if len(signal) != 1 {
		// Some devices send the RFC 4733 event code for * and # ("10", "11").
		switch signal {
		case "10":
			return '*', true
		case "11":
			return '#', true
		}
		return 0, false
	}
	c := signal[0]
	switch {
	case c >= '0' && c <= '9', c == '*', c == '#':
		return media.Digit(c), true
	case c >= 'A' && c <= 'D', c >= 'a' && c <= 'd':
		return media.Digit(c &^ 0x20), true
	}
	return 0, false
}

// onInfo answers an in-dialog INFO. A DTMF key is queued for DTMF (the
// voicemail and prompts listen); a full queue drops it rather than stall
// the dialog. RFC 6086 §4.2: 200 for an INFO we accepted, 415 for a body
// type we do not understand.
func (m *legMedia) onInfo(s *Server, req *sip.Request, tx sip.ServerTransaction) {
	if d, ok := infoDigit(req); ok {
		select {
		case m.dtmf <- d:
		default:
		}
		s.respond(tx, req, 200, "OK")
		return
	}
	if len(req.Body()) == 0 {
		s.respond(tx, req, 200, "OK") // an empty INFO is a keepalive some trunks send
		return
	}
	s.respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
}

// DTMF delivers keys received in SIP INFO requests. It is never closed.
func (m *legMedia) DTMF() <-chan media.Digit { return m.dtmf }
