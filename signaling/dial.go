package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"switchboard/call"
	"switchboard/media"
)

// dial handles "dial": a call the tab places to a number.
func (s *Server) dial(c *session, m *inMsg) {
	to, from := strings.TrimSpace(m.To), strings.TrimSpace(m.From)
	switch {
	case to == "" || len(to) > maxToLen:
		c.sendError(m.ID, codeBadRequest, "dial needs to: the number to call")
		return
	case from == "" || len(from) > maxFromLen:
		c.sendError(m.ID, codeBadRequest, "dial needs from: one of your numbers (E.164)")
		return
	case m.SDP == "":
		c.sendError(m.ID, codeBadRequest, "dial needs sdp: the WebRTC offer")
		return
	}
	placer := s.getPlacer()
	if placer == nil {
		c.sendError(m.ID, codeUnavailable, "calls out are not enabled")
		return
	}
	s.mu.Lock()
	u := s.users[c.user.ID]
	if u == nil || u.legs+u.dialing >= maxCallsPerUser {
		s.mu.Unlock()
		c.sendError(m.ID, codeUnavailable, "too many calls at once")
		return
	}
	u.dialing++
	s.mu.Unlock()
	id, offer := m.ID, m.SDP
	req := call.OutboundRequest{User: c.user.ID, From: from, To: to}
	c.async(func() {
		defer func() {
			s.mu.Lock()
			u.dialing--
			s.forgetIdleLocked(u)
			s.mu.Unlock()
		}()
		s.completeDial(c, placer, req, id, offer)
	})
}

// completeDial negotiates media for an outbound call, then asks the engine
// to place it. The leg exists before the call has an id: progress the
// engine reports meanwhile is held and sent after dial_sdp.
func (s *Server) completeDial(c *session, placer Placer, req call.OutboundRequest, id json.RawMessage, offer string) {
	ctx, cancel := context.WithTimeout(c.ctx, answerTimeout)
	defer cancel()
	// No preference: the browser's own first choice decides, and the engine
	// offers that codec to the trunk first.
	peer, sdp, err := s.media.Answer(ctx, offer, media.Direction{})
	if err != nil {
		if c.ctx.Err() == nil {
			c.log.Info("dial: cannot accept the offer", "err", err)
			c.sendError(id, answerErrorCode(err), "cannot accept the offer: "+err.Error())
		}
		return
	}
	leg := newBrowserLeg(s, c, peer, false)
	peer.OnLocalCandidate(leg.localCandidate)
	leg.watch()
	callID, err := placer.PlaceOutbound(leg, req)
	if err != nil {
		// The engine did not take the leg: release it without telling the
		// tab about a call that never existed.
		leg.mu.Lock()
		leg.endedSent, leg.pending = true, nil
		leg.mu.Unlock()
		leg.end(call.CauseFailed, false)
		code := placeErrorCode(err)
		c.log.Info("dial refused", "to", req.To, "from", req.From, "code", code, "err", err)
		c.sendError(id, code, err.Error())
		return
	}
	// Registered and named at once, so a hangup sent on dial_sdp finds
	// the call; the tab hears of the call before its presence changes.
	s.mu.Lock()
	ok := s.registerLegLocked(leg, callID)
	leg.named(callID, sdpMsg{Type: typeDialSDP, ID: id, SDP: sdp})
	if u := s.users[req.User]; ok && u != nil {
		s.announceLocked(u)
	}
	s.mu.Unlock()
	if !ok && !leg.isEnded() {
		// The tab closed while the call was being placed.
		leg.end(call.CauseFailed, true)
	}
	c.log.Info("dialing", "call_id", callID, "to", req.To, "from", req.From)
}

// placeErrorCode maps PlaceOutbound's errors to the protocol's codes.
func placeErrorCode(err error) string {
	switch {
	case errors.Is(err, call.ErrForbiddenCallerID):
		return codeForbidden
	case errors.Is(err, call.ErrBadNumber):
		return codeBadRequest
	default: // call.ErrDraining and failures to start the call
		return codeUnavailable
	}
}
