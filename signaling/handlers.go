package signaling

import (
	"bytes"
)

// handle dispatches one message of a signed-in tab. It runs in the tab's
// read loop, so a tab's messages are handled in the order sent; anything
// slow (media negotiation) moves to its own goroutine.
func (s *Server) handle(c *session, m *inMsg) {
	if len(m.CallID) > maxCallIDLen {
		c.sendError(m.ID, codeNotFound, "no such call")
		return
	}
	switch m.Type {
	case typePing:
		c.send(okMsg{Type: typePong, ID: m.ID})
	case typeAuth:
		c.sendError(m.ID, codeBadRequest, "already signed in")
	case typePresence:
		s.setPresence(c, m)
	case typeAnswer:
		s.answer(c, m)
	case typeDecline:
		s.decline(c, m)
	case typeDial:
		s.dial(c, m)
	case typeHangup:
		s.hangup(c, m)
	case typeICE:
		s.remoteCandidate(c, m)
	case typeDTMF:
		s.dtmf(c, m)
	case typeMute:
		s.mute(c, m)
	case typeHold:
		s.hold(c, m)
	case "":
		c.sendError(m.ID, codeUnknownType, "the message has no type")
	default:
		c.sendError(m.ID, codeUnknownType, "unknown message type")
	}
}

// hangup handles "hangup" of a connected call or one being placed.
func (s *Server) hangup(c *session, m *inMsg) {
	l := s.legOf(c, m.CallID)
	if l == nil {
		c.sendError(m.ID, codeNotFound, "no such call on this tab")
		return
	}
	c.sendOK(m.ID)
	l.hangupByTab()
}

// remoteCandidate handles "ice": a candidate the browser trickled.
func (s *Server) remoteCandidate(c *session, m *inMsg) {
	if m.CallID == "" || len(m.Candidate) == 0 {
		c.sendError(m.ID, codeBadRequest, "ice needs call_id and candidate (null ends the trickle)")
		return
	}
	end := bytes.Equal(m.Candidate, []byte("null"))
	if !end && m.Candidate[0] != '{' {
		c.sendError(m.ID, codeBadRequest, "candidate must be an RTCIceCandidateInit object or null")
		return
	}
	var peer Peer
	s.mu.Lock()
	if l := s.legs[callKey(m.CallID, c.user.ID)]; l != nil && l.sess == c {
		peer = l.peer
	} else if r := s.rings[callKey(m.CallID, c.user.ID)]; r != nil && r.answerer == c {
		switch {
		case r.peer != nil:
			peer = r.peer
		case end:
			// Nothing to hold: the end of the trickle needs no action.
		case len(r.pendingICE) >= maxPendingICE:
			s.mu.Unlock()
			c.sendError(m.ID, codeBadRequest, "too many ICE candidates")
			return
		default:
			// The answer is being made: keep the candidate for the peer.
			r.pendingICE = append(r.pendingICE, m.Candidate)
		}
		if peer == nil {
			s.mu.Unlock()
			c.sendOK(m.ID)
			return
		}
	}
	s.mu.Unlock()
	if peer == nil {
		c.sendError(m.ID, codeNotFound, "no such call on this tab")
		return
	}
	// The end-of-candidates signal (RFC 8838 §4.4) needs no action: our
	// ICE agent keeps checking the pairs it has.
	if !end {
		if err := peer.AddICECandidate(m.Candidate); err != nil {
			c.sendError(m.ID, codeBadRequest, "bad ICE candidate: "+err.Error())
			return
		}
	}
	c.sendOK(m.ID)
}

// dtmf handles "dtmf". Browsers send DTMF in the media as RFC 4733
// telephone-events (RTCDTMFSender), which the bridge relays to the phone
// side with its payload type; this message is validated and acknowledged so
// clients can report the digits, but it carries no audio itself.
func (s *Server) dtmf(c *session, m *inMsg) {
	if !validDigits(m.Digits) {
		c.sendError(m.ID, codeBadRequest, "digits must be 1 to 32 of 0-9 * # A-D")
		return
	}
	if s.legOf(c, m.CallID) == nil {
		c.sendError(m.ID, codeNotFound, "no such call on this tab")
		return
	}
	c.sendOK(m.ID)
}

// mute handles "mute". It is informational: the call stays up while the
// microphone is muted, because a silent leg is not a dead one.
func (s *Server) mute(c *session, m *inMsg) {
	if m.Muted == nil {
		c.sendError(m.ID, codeBadRequest, "mute needs call_id and muted (true or false)")
		return
	}
	l := s.legOf(c, m.CallID)
	if l == nil {
		c.sendError(m.ID, codeNotFound, "no such call on this tab")
		return
	}
	c.log.Debug("microphone muted", "call_id", m.CallID, "muted", *m.Muted)
	c.sendOK(m.ID)
}

// hold handles "hold": the engine gets a media update, as from a re-INVITE.
func (s *Server) hold(c *session, m *inMsg) {
	if m.Held == nil {
		c.sendError(m.ID, codeBadRequest, "hold needs call_id and held (true or false)")
		return
	}
	l := s.legOf(c, m.CallID)
	if l == nil {
		c.sendError(m.ID, codeNotFound, "no such call on this tab")
		return
	}
	l.setHeld(*m.Held)
	c.sendOK(m.ID)
}
