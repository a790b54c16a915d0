package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"switchboard/call"
	"switchboard/media"
)

// ringState is where a ringing call stands. Guarded by Server.mu.
type ringState int

const (
	ringRinging   ringState = iota // the tabs show the call
	ringAnswering                  // a tab answered; its media is being negotiated
	ringAnswered                   // negotiated: Ring hands the leg to the engine
	ringDeclined                   // a tab declined
	ringGone                       // every ringing tab closed
	ringOver                       // Ring has returned
)

// ring is one call ringing one user's tabs.
type ring struct {
	req  call.RingRequest
	ctx  context.Context
	tabs map[*session]struct{}

	state    ringState
	answerer *session        // the tab that answered, while answering/answered
	answerID json.RawMessage // its request id, echoed in answer_sdp
	peer     Peer            // its negotiated peer, once answered
	sdp      string          // our answer SDP, once answered
	// pendingICE holds candidates the answering tab trickled before its
	// peer existed.
	pendingICE [][]byte
	decliner   *session
	// decided is closed when the state becomes answered, declined or gone.
	decided chan struct{}
}

// decideLocked ends the ringing with st and wakes Ring.
func (r *ring) decideLocked(st ringState) {
	r.state = st
	close(r.decided)
}

// dropTab removes a tab whose socket ended from the ringing.
func (r *ring) dropTab(c *session) {
	if _, ok := r.tabs[c]; !ok {
		return
	}
	delete(r.tabs, c)
	switch {
	case r.state == ringAnswered && r.answerer == c:
		// Negotiated for a tab that vanished before the engine got the leg.
		r.decideLocked(ringGone)
	case r.state == ringAnswering && r.answerer == c:
		// completeAnswer sees the answerer gone and discards its peer.
		r.answerer, r.answerID, r.pendingICE = nil, nil, nil
		r.state = ringRinging
		if len(r.tabs) == 0 {
			r.decideLocked(ringGone)
		}
	case r.state == ringRinging && len(r.tabs) == 0:
		r.decideLocked(ringGone)
	}
}

func incomingFor(req call.RingRequest) incomingMsg {
	return incomingMsg{
		Type:          typeIncoming,
		CallID:        req.CallID,
		Number:        req.Number,
		NumberName:    req.NumberName,
		Caller:        req.Caller,
		CallerDisplay: req.CallerDisplay,
		Contact:       req.Contact,
	}
}

// Ring shows the call on every open tab of req.User and blocks until one
// tab answers (it returns that tab's leg, media negotiated), a tab declines
// (*call.DialError, CauseDeclined), every tab closes or nobody is available
// (*call.DialError, CauseUnavailable), or ctx ends (ctx's error; the tabs
// hear "answered_elsewhere" when context.Cause(ctx) is
// call.ErrAnsweredElsewhere, else "cancelled"). It implements call.Ringer.
func (s *Server) Ring(ctx context.Context, req call.RingRequest) (call.Leg, error) {
	if req.CallID == "" || req.User == "" || len(req.CallID) > maxCallIDLen {
		return nil, fmt.Errorf("%w: call id %q, user %q", ErrInvalidRing, req.CallID, req.User)
	}
	s.mu.Lock()
	u := s.users[req.User]
	if s.closed || u == nil || !u.available() {
		s.mu.Unlock()
		return nil, &call.DialError{Cause: call.CauseUnavailable, Reason: "no available browser tab"}
	}
	key := callKey(req.CallID, req.User)
	if _, dup := s.rings[key]; dup || s.legs[key] != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: call %s is already ringing or connected", ErrInvalidRing, req.CallID)
	}
	r := &ring{req: req, ctx: ctx, tabs: make(map[*session]struct{}, len(u.tabs)), decided: make(chan struct{})}
	msg := incomingFor(req)
	for tab := range u.tabs {
		r.tabs[tab] = struct{}{}
		tab.send(msg)
	}
	s.rings[key] = r
	tabs := len(r.tabs)
	s.mu.Unlock()
	s.log.Info("ringing browsers", "call_id", req.CallID, "user", req.User, "tabs", tabs)

	select {
	case <-ctx.Done():
	case <-r.decided:
	}

	s.mu.Lock()
	delete(s.rings, callKey(req.CallID, req.User))
	state, peer := r.state, r.peer
	r.state = ringOver
	if ctx.Err() != nil {
		// Cancelled, even if a tab answered in the same instant: like a
		// Dialer, a cancelled Ring returns no leg.
		msg := cancelMessage(ctx, req.CallID)
		for tab := range r.tabs {
			tab.send(msg)
		}
		if state == ringAnswered {
			r.answerer.sendError(r.answerID, codeNotFound, "the call is no longer ringing")
		}
		s.mu.Unlock()
		if peer != nil {
			_ = peer.Close()
		}
		return nil, ctx.Err()
	}
	switch state {
	case ringAnswered:
		leg := newBrowserLeg(s, r.answerer, peer, true)
		leg.callID = req.CallID
		leg.answered = true
		r.answerer.send(sdpMsg{Type: typeAnswerSDP, ID: r.answerID, CallID: req.CallID, SDP: r.sdp})
		elsewhere := callMsg{Type: typeAnsweredElsewhere, CallID: req.CallID}
		for tab := range r.tabs {
			if tab != r.answerer {
				tab.send(elsewhere)
			}
		}
		// The answerer is still signed in (dropTab would have made the
		// ring gone), so this cannot fail.
		s.registerLegLocked(leg, req.CallID)
		if u := s.users[req.User]; u != nil {
			s.announceLocked(u) // in_call, after the answer
		}
		s.mu.Unlock()
		leg.watch()
		s.log.Info("answered in browser", "call_id", req.CallID, "user", req.User)
		return leg, nil
	case ringDeclined:
		msg := callMsg{Type: typeCancelled, CallID: req.CallID, Cause: call.CauseDeclined.String()}
		for tab := range r.tabs {
			if tab != r.decliner {
				tab.send(msg)
			}
		}
		s.mu.Unlock()
		s.log.Info("declined in browser", "call_id", req.CallID, "user", req.User)
		return nil, &call.DialError{Cause: call.CauseDeclined, Reason: "declined in the browser"}
	default: // ringGone
		s.mu.Unlock()
		if peer != nil {
			_ = peer.Close()
		}
		return nil, &call.DialError{Cause: call.CauseUnavailable, Reason: "every ringing browser tab closed"}
	}
}

// cancelMessage tells the tabs why a call stopped ringing.
func cancelMessage(ctx context.Context, callID string) callMsg {
	why := context.Cause(ctx)
	if errors.Is(why, call.ErrAnsweredElsewhere) {
		return callMsg{Type: typeAnsweredElsewhere, CallID: callID}
	}
	cause := call.CauseCancelled // the caller hung up
	var de *call.DialError
	switch {
	case errors.As(why, &de):
		cause = de.Cause
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		cause = call.CauseNoAnswer
	}
	return callMsg{Type: typeCancelled, CallID: callID, Cause: cause.String()}
}

// ringingOn returns the call callID while it rings on tab c, else nil.
// s.mu must be held.
func (s *Server) ringingOn(c *session, callID string) *ring {
	r := s.rings[callKey(callID, c.user.ID)]
	if r == nil || r.state != ringRinging {
		return nil
	}
	if _, ok := r.tabs[c]; !ok {
		return nil
	}
	return r
}

// answer handles "answer": the first tab to answer a ringing call takes it.
func (s *Server) answer(c *session, m *inMsg) {
	if m.CallID == "" || m.SDP == "" {
		c.sendError(m.ID, codeBadRequest, "answer needs call_id and sdp (the WebRTC offer)")
		return
	}
	s.mu.Lock()
	r := s.ringingOn(c, m.CallID)
	if r == nil {
		s.mu.Unlock()
		c.sendError(m.ID, codeNotFound, "no such ringing call")
		return
	}
	r.state, r.answerer, r.answerID = ringAnswering, c, m.ID
	s.mu.Unlock()
	offer := m.SDP
	c.async(func() { s.completeAnswer(c, r, offer) })
}

// completeAnswer negotiates media for the answering tab and hands the
// result to Ring.
func (s *Server) completeAnswer(c *session, r *ring, offer string) {
	// The negotiation stops when the ringing stops or the tab goes away.
	ctx, cancel := context.WithTimeout(r.ctx, answerTimeout)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	callID := r.req.CallID
	peer, sdp, err := s.media.Answer(ctx, offer, r.req.Prefer)
	if err == nil {
		peer.OnLocalCandidate(func(cand []byte) { sendLocalCandidate(c, callID, cand) })
	}

	s.mu.Lock()
	id := r.answerID
	if r.state != ringAnswering || r.answerer != c || r.ctx.Err() != nil {
		// Cancelled, or the tab closed, while negotiating: Ring cleans up.
		s.mu.Unlock()
		if peer != nil {
			_ = peer.Close()
		}
		c.sendError(id, codeNotFound, "the call is no longer ringing")
		return
	}
	if err != nil {
		// Let this or another tab try again.
		r.state, r.answerer, r.answerID, r.pendingICE = ringRinging, nil, nil, nil
		s.mu.Unlock()
		c.log.Info("answer failed", "call_id", callID, "err", err)
		c.sendError(id, answerErrorCode(err), "cannot accept the offer: "+err.Error())
		return
	}
	r.peer, r.sdp = peer, sdp
	pending := r.pendingICE
	r.pendingICE = nil
	r.decideLocked(ringAnswered)
	s.mu.Unlock()
	for _, cand := range pending {
		if err := peer.AddICECandidate(cand); err != nil {
			c.log.Info("bad ICE candidate from browser", "call_id", callID, "err", err)
		}
	}
}

// decline handles "decline": the call stops ringing on every tab.
func (s *Server) decline(c *session, m *inMsg) {
	if m.CallID == "" {
		c.sendError(m.ID, codeBadRequest, "decline needs call_id")
		return
	}
	s.mu.Lock()
	r := s.ringingOn(c, m.CallID)
	if r == nil {
		s.mu.Unlock()
		c.sendError(m.ID, codeNotFound, "no such ringing call")
		return
	}
	r.decliner = c
	r.decideLocked(ringDeclined)
	c.sendOK(m.ID)
	s.mu.Unlock()
}

// sendLocalCandidate forwards one of our trickled candidates to the tab.
func sendLocalCandidate(c *session, callID string, cand []byte) {
	if !json.Valid(cand) {
		c.log.Error("media produced an invalid ICE candidate", "call_id", callID)
		return
	}
	c.send(iceMsg{Type: typeICE, CallID: callID, Candidate: append(json.RawMessage(nil), cand...)})
}

// answerErrorCode maps a failed negotiation to the protocol's codes: the
// browser's fault (an offer without G.711, not SDP) or ours.
func answerErrorCode(err error) string {
	if errors.Is(err, media.ErrBadOffer) || errors.Is(err, media.ErrNoCodec) {
		return codeBadRequest
	}
	return codeUnavailable
}
